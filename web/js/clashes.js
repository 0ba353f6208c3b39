// Room clashes: talks of one room whose times overlap, found as the command line finds them
// (talkrate_cli/clashes.py room_clashes): rooms compared as it compares them (composed the same
// way, spaces around and between words and case set aside); a room's talks sorted by start,
// each run of talks overlapping one another one clash (1,000 talks of a placeholder room at
// once: one, not one for each pair), its changed talks first, from the first moment two of them
// hold the room to the last (ms). A talk without a room or both times holds no room.

const order = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const words = (room) => (room || "").normalize("NFC").split(/\s+/).filter(Boolean).join(" ");
// A talk's room as rooms are compared ("": none); the room screen follows its room by it too.
export const roomOf = (talk) => words(talk.room).toLowerCase();
const place = roomOf;

// The clashes of the programme `talks` that hold a talk of `ids`, in the order of their starts:
// each { room, talks, starts, ends }.
export function roomClashes(talks, ids) {
  const changed = new Set(ids);
  const rooms = new Map();
  for (const talk of talks) {
    const [starts, ends] = [Date.parse(talk.startsAt), Date.parse(talk.endsAt)];
    const key = place(talk);
    if (key && starts < ends) rooms.set(key, rooms.get(key) || []).get(key).push([starts, ends, talk]);
  }
  const found = [];
  for (const booked of rooms.values()) {
    booked.sort((a, b) => a[0] - b[0] || a[1] - b[1] || order(String(a[2].id), String(b[2].id)));
    let run = [], reach = -Infinity, span = null;
    const close = () => {
      if (!span || !run.some((t) => changed.has(t.id))) return;
      const held = [...run.filter((t) => changed.has(t.id)), ...run.filter((t) => !changed.has(t.id))];
      found.push({ room: words(held[0].room), talks: held, starts: span[0], ends: span[1] });
    };
    for (const [starts, ends, talk] of booked) {
      // One that starts before the run's last end overlaps it, up to the earlier end
      if (starts < reach) span = [span ? span[0] : starts, Math.max(span ? span[1] : starts, Math.min(ends, reach))];
      else {
        close();
        [run, span] = [[], null];
      }
      run.push(talk);
      reach = Math.max(reach, ends);
    }
    close();
  }
  return found.sort((a, b) => a.starts - b.starts || order(a.room.toLowerCase(), b.room.toLowerCase()) || order(String(a.talks[0].id), String(b.talks[0].id)));
}
