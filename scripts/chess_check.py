#!/usr/bin/env python3
"""Independent legality check of the moves a chess-style run proposed.

`duel eval RUN` of a chess-style run writes RUN/proposed_moves.tsv (FEN <tab> UCI move, one
held-out position a line). This script replays each with python-chess, which shares no code
with duel's move encoding, and reports how many proposals are legal. Exit status 1 if any is
not.

  python3 scripts/chess_check.py runs/zoo4/chess-style-gan-s0/proposed_moves.tsv
"""
import sys

try:
    import chess
except ImportError:
    sys.exit("chess_check.py: needs python-chess: pip install chess")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    total = illegal = 0
    with open(sys.argv[1]) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fen, uci = line.rstrip("\n").split("\t")[:2]
            board = chess.Board(fen)
            total += 1
            try:
                ok = board.is_legal(chess.Move.from_uci(uci))
            except ValueError:
                ok = False
            if not ok:
                illegal += 1
                print(f"illegal: {uci} in {fen}")
    print(f"chess_check: {total - illegal} of {total} proposed moves are legal (python-chess {chess.__version__})")
    sys.exit(1 if illegal else 0)


if __name__ == "__main__":
    main()
