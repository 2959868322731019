#!/usr/bin/env python3
"""Chess positions labelled with the moves of two engine "players", for the chess style GAN
(gan/chess_style.cpp, survey section 5.6).

The two players are Debian's stockfish at two clearly different settings:

  strong   Skill Level 20, depth 8: the engine's own best move at that depth (deterministic)
  weak     Skill Level 0, depth 8:  stockfish's weakening, which picks among its 4 best lines
           with a random, skill-dependent handicap (seeded from the clock inside stockfish, so
           this player's moves are not reproducible from run to run)

Each game starts with 4 to 8 uniformly random plies (from --seed), so that the games differ,
and then the two players play each other (strong has white in even-numbered games). Every
position after the random opening is written with BOTH players' moves: the one on move plays
its move in the game, and the other's choice in the same position is recorded too, so either
player can be the "target" and the other's moves are a baseline on the same positions.

Output: a gzip'd tab-separated file, '#' lines first (the settings), then one position a line:

  game  ply  FEN  legal-moves(UCI, space-separated, sorted)  strong-move  weak-move

Needs: stockfish (apt-get install stockfish) and python-chess (pip install chess), which also
checks every move's legality. Usage:

  python3 scripts/chess_data.py --games 500 --out data/chess/stockfish-styles.tsv.gz
"""
import argparse
import gzip
import os
import random
import shutil
import sys
import time

try:
    import chess
    import chess.engine
except ImportError:
    sys.exit("chess_data.py: needs python-chess: pip install chess")

PLAYERS = {"strong": {"Skill Level": 20}, "weak": {"Skill Level": 0}}
DEPTH = 8


def engine(path, options):
    e = chess.engine.SimpleEngine.popen_uci(path)
    e.configure({"Threads": 1, "Hash": 16, **options})
    return e


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--games", type=int, default=500)
    ap.add_argument("--max-plies", type=int, default=120, help="plies per game, opening included")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random openings")
    ap.add_argument("--stockfish", default=shutil.which("stockfish") or "/usr/games/stockfish")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if not os.path.exists(a.stockfish):
        sys.exit("chess_data.py: stockfish not found (apt-get install stockfish)")

    rng = random.Random(a.seed)
    engines = {name: engine(a.stockfish, opts) for name, opts in PLAYERS.items()}
    version = engines["strong"].id.get("name", "stockfish")
    tmp = a.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    positions = 0
    t0 = time.time()
    with gzip.open(tmp, "wt", encoding="ascii") as f:
        f.write("# duel chess style data, written by scripts/chess_data.py\n")
        f.write(f"# engine: {version}, depth {DEPTH}, Threads 1, Hash 16\n")
        f.write("# players: strong = Skill Level 20, weak = Skill Level 0\n")
        f.write(f"# games {a.games}, max plies {a.max_plies}, opening seed {a.seed}, random opening 4-8 plies\n")
        f.write("# columns: game ply fen legal strong weak\n")
        for g in range(a.games):
            board = chess.Board()
            for _ in range(rng.randint(4, 8)):
                board.push(rng.choice(list(board.legal_moves)))
                if board.is_game_over():
                    break
            white = "strong" if g % 2 == 0 else "weak"
            for e in engines.values():
                e.protocol.send_line("ucinewgame")
            while not board.is_game_over(claim_draw=True) and board.ply() < a.max_plies:
                moves = {n: e.play(board, chess.engine.Limit(depth=DEPTH)).move for n, e in engines.items()}
                legal = sorted(m.uci() for m in board.legal_moves)
                for m in moves.values():
                    assert board.is_legal(m), (board.fen(), m)
                f.write(f"{g}\t{board.ply()}\t{board.fen()}\t{' '.join(legal)}\t"
                        f"{moves['strong'].uci()}\t{moves['weak'].uci()}\n")
                positions += 1
                mover = white if board.turn == chess.WHITE else ("weak" if white == "strong" else "strong")
                board.push(moves[mover])
            if (g + 1) % 10 == 0:
                print(f"chess_data: {g + 1}/{a.games} games, {positions} positions, {time.time() - t0:.0f} s",
                      flush=True)
    for e in engines.values():
        e.quit()
    os.replace(tmp, a.out)
    print(f"chess_data: wrote {positions} positions of {a.games} games to {a.out}")


if __name__ == "__main__":
    main()
