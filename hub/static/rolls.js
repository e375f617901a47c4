// What a rule set says about its rolls, read from GET /api/rules: the order of its wheel, what
// each roll beats and loses to, the key that plays it, and the sentence that explains a round.

import { state } from "./state.js";

// The rule set of that name as the hub serves it: {rolls, beats, verbs?}, or null.
export function ruleSet(name) {
  return state.rules?.rules[name] ?? null;
}

// The rolls round the wheel. In a balanced circle (rps15, rps3, rpsls) every roll beats the k
// rolls before it, so the next roll round the circle is the one of the rolls that beat the
// current one that loses to all the others that do. A table that is no such circle keeps the
// order the hub serves.
export function wheelOrder(rules) {
  const rolls = rules.rolls;
  const beats = (a, b) => rules.beats[a]?.includes(b) ?? false;
  const order = [rolls[0]];
  while (order.length < rolls.length) {
    const current = order[order.length - 1];
    const beaters = rolls.filter((r) => beats(r, current));
    const next = beaters.find((r) => beaters.every((o) => o === r || beats(o, r)));
    if (!next || order.includes(next)) return [...rolls];
    order.push(next);
  }
  return order;
}

// What `roll` beats and what beats it, each in wheel order.
export function relations(rules, roll) {
  const order = wheelOrder(rules);
  return {
    beats: order.filter((r) => rules.beats[roll]?.includes(r)),
    losesTo: order.filter((r) => rules.beats[r]?.includes(roll)),
  };
}

// One key per roll, written on its button: the initials when they are all different, else the
// digits 1–9 and 0 for the first ten, then the first letter of each further name that is free.
export function rollKeys(rolls) {
  const initials = rolls.map((r) => r.slice(0, 1).toLowerCase());
  if (new Set(initials).size === rolls.length && initials.every((k) => /^[a-z]$/.test(k))) {
    return new Map(rolls.map((r, i) => [r, initials[i]]));
  }
  const keys = new Map();
  const taken = new Set();
  rolls.forEach((roll, i) => {
    let key = i < 10 ? String((i + 1) % 10) : null;
    if (key === null) {
      key = [...roll.toLowerCase()].find((c) => /^[a-z]$/.test(c) && !taken.has(c)) ?? null;
    }
    if (key !== null) {
      taken.add(key);
      keys.set(roll, key);
    }
  });
  return keys;
}

// Why one roll won: the rule's own verb when the table has one ("Rock crushes Scissors"), else
// "Rock beats Scissors".
export function explain(rules, winner, loser) {
  const verb = rules?.verbs?.[winner]?.[loser] ?? "beats";
  return `${winner} ${verb} ${loser}`;
}
