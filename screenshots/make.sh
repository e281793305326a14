#!/usr/bin/env bash
# Screenshots of the real inspector on the bundled demo: run it in a private tmux server, drive
# it with keys, capture the screen with its colours, and render each capture to PNG
# (ANSI -> SVG with ansi2svg.py -> PNG with rsvg-convert; no browser needed).
#
#   screenshots/make.sh            build release and write overview.png, breakpoint.png,
#                                  memory.png (the demo, 150x42), code.png (200x60: a step over
#                                  a call) and deadlock.png (__demo hung-cycle, 150x42)
#   screenshots/make.sh deadlock   only the named ones: demo (the first three), code, deadlock
#   PTSCOPE=path/to/ptscope screenshots/make.sh    use an existing binary
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v rsvg-convert >/dev/null || missing+=(librsvg2-bin)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get install -y "${missing[@]}" >/dev/null
fi

if [ -z "${PTSCOPE:-}" ]; then
    cargo build --release --quiet
    PTSCOPE=target/release/ptscope
fi

want() {
    for w in "${SHOTS[@]}"; do [ "$w" = "$1" ] && return 0; done
    return 1
}
SHOTS=("$@")
[ ${#SHOTS[@]} -eq 0 ] && SHOTS=(demo code deadlock)

COLS=150
ROWS=42
sock="ptscope-shots-$$"
hung=""
cleanup() {
    tmux -L "$sock" kill-server 2>/dev/null || true
    if [ -n "$hung" ]; then kill "$hung" 2>/dev/null || true; fi
}
trap cleanup EXIT

# A session of its own at COLS x ROWS running `ptscope ARGS...`, once the last one has ended
# with its ptscope (q).
session() {
    for _ in $(seq 100); do
        tmux -L "$sock" has-session 2>/dev/null || break
        sleep 0.1
    done
    tmux -L "$sock" kill-server 2>/dev/null || true
    COLS=$1
    ROWS=$2
    shift 2
    tmux -L "$sock" new-session -d -x "$COLS" -y "$ROWS" "$PTSCOPE $*"
}

screen() { tmux -L "$sock" capture-pane -p; }
keys() { tmux -L "$sock" send-keys "$@"; }
# Waits up to 20 s for a regular expression to appear on the screen.
wait_for() {
    for _ in $(seq 200); do
        if screen | grep -Eq -- "$1"; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for: $1" >&2
    screen >&2
    exit 1
}
shot() {
    tmux -L "$sock" capture-pane -e -p \
        | python3 "$here/ansi2svg.py" "$COLS" "$ROWS" \
        | rsvg-convert -f png -o "$here/$1"
    echo "wrote screenshots/$1"
}

if want demo; then
    session 150 42 demo
    wait_for ' RUNNING '
    # Let a few threads be born, die, and a few SIGUSR1s pass through the log.
    wait_for 'Event log \(([4-9][0-9]|[1-9][0-9]{2,})\)'
    keys s
    wait_for ' STOPPED '
    # Names and the selected thread's stack come from the symbol thread a moment later.
    wait_for 'Backtrace [0-9]+ \([0-9]+ frames\)'
    wait_for 'clock_nanosleep\+0x'
    shot overview.png

    keys b
    wait_for 'breakpoint address:'
    keys -l 'ptscope_demo_hot'
    keys Enter
    wait_for 'breakpoint set at'
    keys c
    wait_for '> [0-9]+ +worker-[0-9] +stopped +breakpoint'
    # Function names come from a symbol thread a moment later.
    wait_for 'breakpoint 0x[0-9a-f]+ .*ptscope_demo_hot'
    # The stack of the thread that hit it, unwound on the symbol thread.
    wait_for 'Backtrace [0-9]+ \([0-9]+ frames\)'
    shot breakpoint.png

    # One instruction on the thread that hit it, then the memory at its stack.
    keys n
    wait_for 'stepped one instruction'

    keys g
    wait_for 'memory address:'
    keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
    keys -l 'rsp-0x40'
    keys Enter
    wait_for 'Memory rsp-0x40 = '
    sleep 0.3
    shot memory.png

    keys q
fi

if want code; then
    # The code pane: a breakpoint on the line of the workers' loop that calls the hot function;
    # once a worker stops there, the breakpoint goes (the other workers would hit it during the
    # step), `o` until the pc is on the call, and `o` once more over it.
    session 200 60 demo
    line=$(grep -n 'x = ptscope_demo_hot(x);' src/demo/service.rs | cut -d: -f1)
    wait_for ' RUNNING '
    keys b
    wait_for 'breakpoint address:'
    keys -l "service.rs:$line"
    keys Enter
    wait_for 'Breakpoints \(1\)'
    # The demo runs on: a worker hits it at once.
    wait_for ' STOPPED '
    wait_for "=> ?$line "
    keys Tab Tab Tab Tab Tab
    keys d
    wait_for 'Breakpoints \(0\)'
    keys Tab Tab Tab
    for _ in $(seq 12); do
        if screen | grep -Eq '=>0x[0-9a-f]+ .* call '; then break; fi
        keys o
        sleep 0.3
    done
    screen | grep -Eq '=>0x[0-9a-f]+ .* call ' || { echo "no call reached" >&2; screen >&2; exit 1; }
    keys o
    wait_for 'step over done'
    wait_for 'Backtrace [0-9]+ \([0-9]+ frames\)'
    sleep 0.3
    shot code.png
    keys q
fi

if want deadlock; then
    # Three threads in a mutex cycle and one that relocks its own mutex: the inspector attached
    # to it announces both deadlocks as soon as every thread is stopped.
    ready="$(mktemp)"
    "$PTSCOPE" __demo hung-cycle >"$ready" &
    hung=$!
    for _ in $(seq 200); do grep -q '^READY' "$ready" && break; sleep 0.1; done
    grep -q '^READY' "$ready" || { echo "hung-cycle never got ready" >&2; exit 1; }
    first="$(sed -n 's/.*"tids":\[\([0-9]*\).*/\1/p' "$ready")"
    rm -f "$ready"
    # Blocked for a moment, so the waits say for how long.
    sleep 3
    session 150 42 "$hung"
    wait_for 'DEADLOCK: .* \(mutex <ptscope_cycle_m'
    # The first thread of the cycle, and its stack from the symbol thread.
    keys j
    wait_for "Backtrace $first \\([0-9]+ frames\\)"
    wait_for 'ptscope_cycle_take'
    sleep 0.3
    shot deadlock.png
    keys q
    sleep 0.5
    kill "$hung" 2>/dev/null || true
    hung=""
fi
