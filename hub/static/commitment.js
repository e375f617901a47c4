// The commitment check: the computer publishes sha256("<roll>:<nonce>") before a round and
// reveals the nonce after it; SubtleCrypto recomputes the hash in this browser.

// True when the revealed roll and nonce hash to the commitment (SubtleCrypto must exist).
export async function commitmentHolds(roll, nonce, commitment) {
  const bytes = new TextEncoder().encode(`${roll}:${nonce}`);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  const hex = [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
  return hex === commitment.toLowerCase();
}
