// The clock for deadlines, backoff, progress and elapsed times. It is monotonic: chrony and
// systemd-timesyncd step the wall clock at boot, exactly while a run waits, and a step must neither
// end a wait early nor make it last for hours. Use Date only for what is shown as a date.

/** Whole milliseconds since an arbitrary point (durations are reported as integers); only differences mean anything. */
export const monotonicMs = (): number => Math.floor(performance.now())
