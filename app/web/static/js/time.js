// Times: the API speaks UTC (RFC 3339, "Z"); people see and type wall-clock times in their zone.

export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (e) {
    return "UTC";
  }
}

/** "Mon, 7 Dec 2026, 09:30" in `zone`. */
export function formatTime(iso, zone) {
  if (!iso) return "";
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: zone }).format(new Date(iso));
  } catch (e) {
    return new Date(iso).toLocaleString();
  }
}

function parts(date, zone) {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const out = {};
  for (const p of fmt.formatToParts(date)) out[p.type] = p.value;
  return out;
}

/** Minutes `zone` is ahead of UTC at instant `ms`. */
function offsetMinutes(ms, zone) {
  const p = parts(new Date(ms), zone);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

/** An RFC 3339 UTC time as the value of an <input type="datetime-local"> in `zone`. */
export function toLocalInput(iso, zone) {
  if (!iso) return "";
  const p = parts(new Date(iso), zone);
  return `${p.year}-${p.month}-${p.day}T${String(+p.hour % 24).padStart(2, "0")}:${p.minute}`;
}

/** The value of an <input type="datetime-local"> (a wall-clock time in `zone`) as RFC 3339 UTC. */
export function fromLocalInput(value, zone) {
  if (!value) return null;
  const [date, time = "00:00"] = value.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [h, mi] = time.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  let ms = wall - offsetMinutes(wall, zone) * 60000;
  ms = wall - offsetMinutes(ms, zone) * 60000; // again, in case the guess crossed a DST change
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The IANA zones this browser knows, for the profile's zone picker. */
export function zones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch (e) {
    return ["UTC", browserZone()];
  }
}
