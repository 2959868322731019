// Chess positions and moves for the style GAN (data/chess.h).
#include "data/chess.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "data/text.h"  // fnv1a64
#include "tensor/error.h"

namespace duel {
namespace {

constexpr const char* kPieces = "pnbrqk";

int square(char file, char rank) {
  if (file < 'a' || file > 'h' || rank < '1' || rank > '8') return -1;
  return (rank - '1') * 8 + (file - 'a');
}

std::vector<std::string> split_on(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

// The whole file, decompressed (zlib reads plain files as they are).
std::string read_maybe_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  DUEL_CHECK(f != nullptr, "chess data: cannot open '", path, "'");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, n);
  int err = 0;
  const char* msg = n < 0 ? gzerror(f, &err) : nullptr;
  gzclose(f);
  DUEL_CHECK(n == 0, "chess data: error reading '", path, "': ", msg ? msg : "?", " (a truncated or corrupt gzip file?)");
  return out;
}

// The default file's path: as given when it exists (run from the repository root), else
// relative to this checkout (this source's folder is its data/).
std::string resolve(const std::string& path) {
  if (const char* env = std::getenv(kChessDataEnv); env && *env && path == kDefaultChessData) return env;
  if (path != kDefaultChessData || std::filesystem::exists(path)) return path;
  const std::filesystem::path here = std::filesystem::path(__FILE__).parent_path();
  if (here.is_absolute() && std::filesystem::exists(here.parent_path() / path))
    return (here.parent_path() / path).string();
  DUEL_FAIL("chess data: '", path,
            "' was not found; run from the repository root, or write it with "
            "scripts/chess_data.py (needs stockfish and python-chess) and pass --data PATH");
}

}  // namespace

void chess_planes(const std::string& fen, float* planes) {
  std::fill(planes, planes + kChessPlanes * 64, 0.0f);
  const auto f = split_on(fen, ' ');
  DUEL_CHECK(f.size() == 6, "chess FEN '", fen, "': expected 6 space-separated fields, got ", f.size());
  DUEL_CHECK(f[1] == "w" || f[1] == "b", "chess FEN '", fen, "': side to move must be w or b, got '", f[1], "'");
  const bool black = f[1] == "b";
  const auto ranks = split_on(f[0], '/');
  DUEL_CHECK(ranks.size() == 8, "chess FEN '", fen, "': expected 8 ranks, got ", ranks.size());
  int kings[2] = {0, 0};
  for (int r = 0; r < 8; ++r) {
    const int rank = 7 - r;  // FEN lists rank 8 first
    int file = 0;
    for (char c : ranks[r]) {
      if (c >= '1' && c <= '8') {
        file += c - '0';
        continue;
      }
      const char lower = (char)std::tolower((unsigned char)c);
      const char* p = std::strchr(kPieces, lower);
      DUEL_CHECK(p && lower != 0, "chess FEN '", fen, "': unknown piece '", c, "'");
      DUEL_CHECK(file < 8, "chess FEN '", fen, "': rank ", rank + 1, " has more than 8 squares");
      const bool white_piece = c != lower;
      if (lower == 'k') ++kings[white_piece ? 0 : 1];
      const bool own = white_piece != black;
      const int sq = (black ? 7 - rank : rank) * 8 + file;
      planes[((own ? 0 : 6) + (p - kPieces)) * 64 + sq] = 1.0f;
      ++file;
    }
    DUEL_CHECK(file == 8, "chess FEN '", fen, "': rank ", rank + 1, " has ", file, " squares, expected 8");
  }
  DUEL_CHECK(kings[0] == 1 && kings[1] == 1, "chess FEN '", fen, "': expected one king of each colour");
  if (f[2] != "-") {
    for (char c : f[2]) {
      DUEL_CHECK(std::strchr("KQkq", c), "chess FEN '", fen, "': bad castling field '", f[2], "'");
      const bool white_right = std::isupper((unsigned char)c), own = white_right != black;
      const bool king_side = std::tolower((unsigned char)c) == 'k';
      const int plane = 12 + (own ? 0 : 2) + (king_side ? 0 : 1);
      std::fill(planes + plane * 64, planes + plane * 64 + 64, 1.0f);
    }
  }
  if (f[3] != "-") {
    const int sq = f[3].size() == 2 ? square(f[3][0], f[3][1]) : -1;
    DUEL_CHECK(sq >= 0, "chess FEN '", fen, "': bad en-passant square '", f[3], "'");
    planes[16 * 64 + (black ? sq ^ 56 : sq)] = 1.0f;
  }
  std::fill(planes + 17 * 64, planes + 18 * 64, 1.0f);
}

int64_t chess_move_id(const std::string& uci, bool black) {
  const bool shape_ok = (uci.size() == 4 || (uci.size() == 5 && std::strchr("qrbn", uci[4]) && uci[4] != 0));
  const int from = shape_ok ? square(uci[0], uci[1]) : -1, to = shape_ok ? square(uci[2], uci[3]) : -1;
  DUEL_CHECK(from >= 0 && to >= 0 && from != to, "chess move '", uci,
             "': expected a UCI move (from and to squares a1..h8, an optional promotion q, r, b or n)");
  const int f = black ? from ^ 56 : from, t = black ? to ^ 56 : to;
  if (uci.size() == 5 && uci[4] != 'q') {
    const int file = f % 8, dir = t % 8 - file + 1;
    DUEL_CHECK(f / 8 == 6 && t / 8 == 7 && dir >= 0 && dir <= 2, "chess move '", uci,
               "': a promotion must go from the 7th to the 8th rank of the side to move, one file at most");
    const int piece = uci[4] == 'n' ? 0 : uci[4] == 'b' ? 1 : 2;
    return 4096 + (file * 3 + dir) * 3 + piece;
  }
  return f * 64 + t;
}

std::string chess_move_uci(int64_t id, bool black) {
  DUEL_CHECK(id >= 0 && id < kChessMoves, "chess move id ", id, " is outside [0, ", kChessMoves, ")");
  int f, t;
  std::string promo;
  if (id >= 4096) {
    const int64_t k = id - 4096, piece = k % 3, dir = (k / 3) % 3, file = k / 9;
    DUEL_CHECK(file + dir - 1 >= 0 && file + dir - 1 < 8, "chess move id ", id, " is no move (a promotion off the board)");
    f = 48 + (int)file;
    t = 56 + (int)(file + dir - 1);
    promo = std::string(1, "nbr"[piece]);
  } else {
    f = (int)(id / 64);
    t = (int)(id % 64);
    DUEL_CHECK(f != t, "chess move id ", id, " is no move (from and to are the same square)");
  }
  if (black) f ^= 56, t ^= 56;
  return std::string{char('a' + f % 8), char('1' + f / 8), char('a' + t % 8), char('1' + t / 8)} + promo;
}

bool ChessData::is_legal(int64_t i, int64_t id) const {
  return std::binary_search(legal.begin() + legal_offset[i], legal.begin() + legal_offset[i + 1], id);
}

std::string ChessData::move_uci(int64_t i, int64_t id) const {
  auto begin = legal.begin() + legal_offset[i], end = legal.begin() + legal_offset[i + 1];
  auto it = std::lower_bound(begin, end, id);
  DUEL_CHECK(it != end && *it == id, "chess data: move ", chess_move_uci(id, black[i]), " (id ", id,
             ") is not legal in position ", i, " (", fen[i], ")");
  return legal_uci[it - legal.begin()];
}

std::vector<int64_t> ChessData::split(const std::string& which) const {
  DUEL_CHECK(which == "train" || which == "val" || which == "test", "chess data: unknown split '", which,
             "' (expected train, val or test)");
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < size(); ++i) {
    const int64_t g = game[i] % 10;
    if ((which == "test" && g == 9) || (which == "val" && g == 8) || (which == "train" && g < 8)) rows.push_back(i);
  }
  return rows;
}

Tensor ChessData::legal_mask(const std::vector<int64_t>& rows) const {
  std::vector<float> m(rows.size() * kChessMoves, -1e9f);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t k = legal_offset[rows[r]]; k < legal_offset[rows[r] + 1]; ++k) m[r * kChessMoves + legal[k]] = 0.0f;
  return from_vector(m, {(int64_t)rows.size(), kChessMoves});
}

int chess_player_index(const std::string& name) {
  for (int p = 0; p < 2; ++p)
    if (name == kChessPlayers[p]) return p;
  DUEL_FAIL("chess player '", name, "': expected strong or weak");
}

ChessData load_chess_data(const std::string& given) {
  ChessData d;
  d.path = resolve(given);
  const std::string text = read_maybe_gzip(d.path);
  d.hash = fnv1a64(text);
  d.legal_offset.push_back(0);
  std::vector<float> planes;
  std::istringstream lines(text);
  int64_t line_no = 0;
  for (std::string line; std::getline(lines, line);) {
    ++line_no;
    if (line.empty()) continue;
    if (line[0] == '#') {
      d.header.push_back(line.substr(1));
      continue;
    }
    const auto where = [&] { return "chess data '" + d.path + "', line " + std::to_string(line_no); };
    const auto f = split_on(line, '\t');
    DUEL_CHECK(f.size() == 6, where(), ": expected 6 tab-separated fields (game, ply, FEN, legal moves, strong, weak), got ",
               f.size());
    int64_t game = -1, ply = -1;
    try {
      size_t a = 0, b = 0;
      game = std::stoll(f[0], &a);
      ply = std::stoll(f[1], &b);
      if (a != f[0].size() || b != f[1].size()) game = -1;
    } catch (const std::exception&) {
    }
    DUEL_CHECK(game >= 0 && ply >= 0, where(), ": game and ply must be non-negative integers, got '", f[0], "' and '",
               f[1], "'");
    planes.resize(planes.size() + kChessPlanes * 64);
    try {
      chess_planes(f[2], planes.data() + planes.size() - kChessPlanes * 64);
    } catch (const Error& e) {
      DUEL_FAIL(where(), ": ", e.what());
    }
    const bool black = f[2].find(" b ") != std::string::npos;
    std::vector<std::pair<int64_t, std::string>> moves;  // (id, UCI), sorted by id
    for (const std::string& m : split_on(f[3], ' ')) {
      try {
        moves.emplace_back(chess_move_id(m, black), m);
      } catch (const Error& e) {
        DUEL_FAIL(where(), ": legal moves: ", e.what());
      }
    }
    DUEL_CHECK(!moves.empty(), where(), ": a position needs at least one legal move");
    std::sort(moves.begin(), moves.end());
    std::vector<int64_t> ids;
    for (auto& [id, m] : moves) ids.push_back(id);
    DUEL_CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end(), where(), ": a legal move is listed twice");
    for (int p = 0; p < 2; ++p) {
      int64_t id = -1;
      try {
        id = chess_move_id(f[4 + p], black);
      } catch (const Error& e) {
        DUEL_FAIL(where(), ": ", kChessPlayers[p], "'s move: ", e.what());
      }
      DUEL_CHECK(std::binary_search(ids.begin(), ids.end(), id), where(), ": ", kChessPlayers[p], "'s move ", f[4 + p],
                 " is not among the position's legal moves");
      d.move[p].push_back(id);
    }
    d.game.push_back(game);
    d.ply.push_back(ply);
    d.fen.push_back(f[2]);
    d.black.push_back(black);
    d.legal.insert(d.legal.end(), ids.begin(), ids.end());
    for (auto& [id, m] : moves) d.legal_uci.push_back(m);
    d.legal_offset.push_back((int64_t)d.legal.size());
  }
  DUEL_CHECK(d.size() > 0, "chess data '", d.path, "': no positions");
  d.planes = from_vector(planes, {d.size(), kChessPlanes, 8, 8});
  return d;
}

}  // namespace duel
