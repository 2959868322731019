// Chess positions labelled with two players' moves, for the chess style GAN
// (gan/chess_style.cpp, survey section 5.6). The file is written by scripts/chess_data.py
// (Debian's stockfish at two settings, "strong" and "weak"; python-chess checks every move):
// gzip'd or plain text, '#' comment lines first, then one position a line with six tab-separated
// fields:
//
//   game  ply  FEN  legal moves (UCI, space-separated)  strong's move  weak's move
//
// The repository ships one such file, data/chess/stockfish-styles.tsv.gz (kDefaultChessData);
// $DUEL_CHESS_DATA names a file to read in its place (the tests' tiny one).
//
// Everything is seen from the side to move (as in AlphaZero's encoding): with black to move
// the board is mirrored top to bottom and the colours swapped, so "own" pieces always move up
// the board and one network serves both colours.
//
// Board planes, float [18, 8, 8] (plane p, rank r from the mover's side, file f):
//   0-5    own pawn, knight, bishop, rook, queen, king
//   6-11   the opponent's, in the same order
//   12-15  castling rights (all ones or all zeros): own king-side, own queen-side, the
//          opponent's king-side, queen-side
//   16     the en-passant target square
//   17     all ones (so that convolutions see the board's edge)
//
// Moves, one id each in [0, kChessMoves) (in the mover's frame, squares 0..63 = a1..h8):
//   from * 64 + to                      every move except under-promotions (queen promotions too)
//   4096 + (file * 3 + dir) * 3 + piece under-promotion of the pawn on `file` of the 7th rank,
//                                       dir = to_file - file + 1 (0, 1, 2), piece n, b, r = 0, 1, 2
//
// Split by game (positions of one game stay together): game % 10 == 9 is test, == 8 is
// validation, the rest train.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace duel {

inline constexpr int64_t kChessPlanes = 18;
inline constexpr int64_t kChessMoves = 4096 + 72;
inline constexpr const char* kDefaultChessData = "data/chess/stockfish-styles.tsv.gz";
inline constexpr const char* kChessDataEnv = "DUEL_CHESS_DATA";
inline constexpr const char* kChessPlayers[2] = {"strong", "weak"};

// The planes of a position given by FEN (see above), written to `planes` (kChessPlanes * 64
// floats). Throws duel::Error naming the FEN and what is wrong with it.
void chess_planes(const std::string& fen, float* planes);
// UCI move (e2e4, e7e8q) -> id, for the side to move (black: mirrored). Throws on a malformed
// move.
int64_t chess_move_id(const std::string& uci, bool black_to_move);
// id -> UCI move for the side to move; the inverse of chess_move_id, except that a queen
// promotion comes back without its "q" (ChessData::move_uci restores it from the position).
std::string chess_move_uci(int64_t id, bool black_to_move);

struct ChessData {
  std::string path;
  std::vector<std::string> header;  // the file's '#' lines, without the '#'
  uint64_t hash = 0;                // FNV-1a 64 of the file's (decompressed) bytes
  std::vector<int64_t> game, ply;
  std::vector<std::string> fen;
  std::vector<uint8_t> black;                  // 1 where black is to move
  std::vector<int64_t> legal_offset, legal;    // position i's legal move ids: legal[legal_offset[i] .. legal_offset[i+1])
  std::vector<std::string> legal_uci;          // the same moves as the file wrote them (UCI), in the same order
  std::vector<int64_t> move[2];                // the players' moves (ids), kChessPlayers order
  Tensor planes;                               // float [N, 18, 8, 8]

  int64_t size() const { return (int64_t)fen.size(); }
  int64_t legal_count(int64_t i) const { return legal_offset[i + 1] - legal_offset[i]; }
  bool is_legal(int64_t i, int64_t id) const;
  // Move `id` of position i in UCI as the file wrote it: a queen promotion keeps its "q",
  // which the id alone does not say (e7e8 and e7e8q share an id). Throws if the move is not
  // legal in position i.
  std::string move_uci(int64_t i, int64_t id) const;
  // The rows of split "train", "val" or "test" (by game, see above).
  std::vector<int64_t> split(const std::string& which) const;
  // Additive masks for rows `rows`: float [n, kChessMoves], 0 for legal moves and -1e9 for the
  // rest (added to logits, a softmax gives illegal moves probability exactly 0).
  Tensor legal_mask(const std::vector<int64_t>& rows) const;
};

// Reads and validates a file written by scripts/chess_data.py. Throws duel::Error naming the
// file, the line and what was expected (six fields; a valid FEN; legal moves that parse, are
// distinct and include both players' moves). A missing default file names the script that
// writes it.
ChessData load_chess_data(const std::string& path);
// player name ("strong" or "weak") -> index into ChessData::move; throws on another name.
int chess_player_index(const std::string& name);

}  // namespace duel
