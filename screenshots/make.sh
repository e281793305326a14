#!/usr/bin/env bash
# Screenshots of the real inspector on the bundled demo: run it in a private tmux server, drive
# it with keys, capture the screen with its colours, and render each capture to PNG
# (ANSI -> SVG with ansi2svg.py -> PNG with rsvg-convert; no browser needed).
#
#   screenshots/make.sh            build release and write overview.png, breakpoint.png, memory.png
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

COLS=150
ROWS=42
sock="ptscope-shots-$$"
tmux -L "$sock" new-session -d -x "$COLS" -y "$ROWS" "$PTSCOPE demo"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT

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

wait_for ' RUNNING '
# Let a few threads be born, die, and a few SIGUSR1s pass through the log.
wait_for 'Event log \(([4-9][0-9]|[1-9][0-9]{2,})\)'
keys s
wait_for ' STOPPED '
shot overview.png

keys b
wait_for 'breakpoint address:'
keys -l 'ptscope_demo_hot'
keys Enter
wait_for 'breakpoint set at'
keys c
wait_for '> [0-9]+ +worker-[0-9] +stopped +breakpoint'
# Function names come from a symbol thread a moment later.
wait_for 'breakpoint 0x[0-9a-f]+ +0x[0-9a-f]+ ptscope_demo_hot'
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
