// Shared state of the page: the constants of its storage keys and the one `state` object that
// every view renders from. Functions that change it live with the view that owns the part.

export const TOKEN_KEY = "rps-hub.token";
export const NAME_KEY = "rps-hub.name";
export const SEEN_KEY = "rps-hub.seen"; // sessionStorage: how far this tab read its player topic
export const COMPUTER = "computer";
export const BEST_OF = [1, 3, 5, 7, 9, 11, 13, 15];

export const state = {
  token: localStorage.getItem(TOKEN_KEY),
  me: null, // the registered name, once the hub accepted our token
  rules: null, // GET /api/rules
  players: new Map(), // lobby: name -> status
  live: new Map(), // lobby: game id -> summary
  challenges: new Map(), // challenges for me: id -> {id, from, best_of, rules}
  outgoing: null, // what I wait for: {kind: "queue", rules, best_of} or {kind: "challenge", id, to, rematch?}
  rematchNote: "", // what the result has to say about a rematch asked for
  queue: new Map(), // lobby: "rules best_of" -> {rules, best_of, waiting}, pools with someone waiting
  note: "", // the last thing the play panel has to say
  gameId: null, // the game on screen, from the hash route
  watching: null, // the game whose topic we follow (the one on screen, once connected)
  game: null, // that game (docs/protocol.md, "The game object"), kept up to date by its topic's events
  commitments: new Map(), // round -> commitment published at round_open (viewed game)
  verdicts: new Map(), // round -> true (verified) | false (mismatch) | null (cannot check)
  moved: new Set(), // players who moved in the open round (viewed game)
  myMove: null, // {round, roll} that I sent in the viewed game
  roundClock: null, // {round, length}: a round this page saw open, and its length (ms)
  gameError: "",
  lastRound: "", // what the live region said about the last round
  clockOffset: 0, // server clock minus ours, from event timestamps (ms)
};
