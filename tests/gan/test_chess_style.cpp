// The chess style GAN (gan/chess_style.cpp) and its data (data/chess.h): board planes and move
// ids against hand-derived values, the loader's validation, and the model through the registry
// (it learns, and every move it proposes is legal).

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data/chess.h"
#include "tensor/error.h"
#include "tests/data/chess_fixture.h"
#include "tests/train/run_files.h"
#include "train/fit.h"
#include "train/registry.h"
#include "tests/error_of.h"

using namespace duel;
using test::error_of;
namespace fs = std::filesystem;

namespace {

// The fixture's lines (no comments), split into fields.
std::vector<std::vector<std::string>> fixture_rows() {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(test::kChessFixture);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::istringstream fs_(line);
    for (std::string x; std::getline(fs_, x, '\t');) f.push_back(x);
    rows.push_back(f);
  }
  return rows;
}

}  // namespace

TEST_CASE("chess: board planes of a position, from the side to move", "[data][chess]") {
  std::vector<float> p(kChessPlanes * 64);
  // after 1. e4: black to move, so the board is mirrored and black's pieces are "own"
  chess_planes("rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq e3 0 1", p.data());
  auto at = [&](int plane, int sq) { return p[plane * 64 + sq]; };
  for (int f = 0; f < 8; ++f) CHECK(at(0, 8 + f) == 1.f);  // black's pawns, rank 7 -> mirrored rank 2
  CHECK(at(5, 4) == 1.f);                                   // black's king e8 -> e1 (square 4)
  CHECK(at(11, 60) == 1.f);                                 // white's king e1 -> e8 (60)
  CHECK(at(6, 36) == 1.f);                                  // white's pawn e4 -> e5 (36)
  CHECK(at(6, 12) == 0.f);                                  // ... and not on e2 any more
  CHECK(at(16, 44) == 1.f);                                 // en passant e3 -> e6 (44)
  for (int c = 12; c < 16; ++c) CHECK(at(c, 0) == 1.f);     // all four castling rights
  CHECK(at(17, 63) == 1.f);
  double total = 0;
  for (int plane = 0; plane < 12; ++plane)
    for (int sq = 0; sq < 64; ++sq) total += at(plane, sq);
  CHECK(total == 32);  // every piece once

  chess_planes("4k3/8/8/8/8/8/8/4K2R w K - 0 1", p.data());
  CHECK(at(12, 7) == 1.f);  // own king-side right only
  CHECK(at(13, 7) == 0.f);
  CHECK(at(14, 7) == 0.f);
  CHECK(at(3, 7) == 1.f);  // own rook h1
}

TEST_CASE("chess: move ids, mirrored for black, with under-promotions", "[data][chess]") {
  CHECK(chess_move_id("e2e4", false) == 12 * 64 + 28);
  CHECK(chess_move_id("e7e5", true) == 12 * 64 + 28);  // the same move from black's side
  CHECK(chess_move_id("e1g1", false) == 4 * 64 + 6);    // castling is the king's move
  CHECK(chess_move_id("a7a8q", false) == 48 * 64 + 56);  // a queen promotion is a plain from-to
  CHECK(chess_move_id("b7a8n", false) == 4096 + (1 * 3 + 0) * 3 + 0);
  CHECK(chess_move_id("g2h1r", true) == 4096 + (6 * 3 + 2) * 3 + 2);
  for (bool black : {false, true})
    for (int64_t id = 0; id < kChessMoves; ++id) {
      const int64_t file = (id - 4096) / 9, to_file = file + (id - 4096) / 3 % 3 - 1;
      if (id < 4096 ? id / 64 == id % 64 : to_file < 0 || to_file > 7) {  // ids of no move
        CHECK_THAT(error_of([&] { chess_move_uci(id, black); }), Catch::Contains("is no move"));
        continue;
      }
      REQUIRE(chess_move_id(chess_move_uci(id, black), black) == id);
    }
  CHECK_THAT(error_of([] { chess_move_id("e2e9", false); }), Catch::Contains("e2e9") && Catch::Contains("UCI"));
  CHECK_THAT(error_of([] { chess_move_id("e2e4n", false); }), Catch::Contains("promotion"));
  CHECK_THAT(error_of([] { chess_move_uci(kChessMoves, false); }), Catch::Contains("outside"));
}

TEST_CASE("chess: the data file is read, split by game and validated", "[data][chess]") {
  test::TempDir tmp("duel_chess_data");
  const std::string path = (tmp.dir / "tiny.tsv").string();
  test::write_chess_fixture(path);
  ChessData d = load_chess_data(path);
  auto rows = fixture_rows();
  REQUIRE(d.size() == (int64_t)rows.size());
  CHECK(d.header.size() == 1);
  CHECK(d.planes.sizes() == Shape{d.size(), 18, 8, 8});
  CHECK(d.split("train").size() + d.split("val").size() + d.split("test").size() == rows.size());
  for (int64_t i : d.split("test")) CHECK(d.game[i] % 10 == 9);
  int64_t promotions = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    CHECK(d.legal_count(i) == (int64_t)std::count(rows[i][3].begin(), rows[i][3].end(), ' ') + 1);
    // every legal move comes back as the file wrote it, queen promotions with their "q"
    std::istringstream legal(rows[i][3]);
    for (std::string m; legal >> m;) {
      CHECK(d.move_uci(i, chess_move_id(m, d.black[i])) == m);
      promotions += m.size() == 5;
    }
    CHECK(chess_move_uci(d.move[0][i], d.black[i]) == rows[i][4]);
    CHECK(chess_move_uci(d.move[1][i], d.black[i]) == rows[i][5]);
  }
  CHECK(promotions > 0);  // the fixture has promotions (e7e8q and e7e8 share an id)
  CHECK_THAT(error_of([&] { d.move_uci(0, chess_move_id("a2a3", d.black[0])); }), Catch::Contains("is not legal"));
  // the mask: 0 on the legal moves, -1e9 elsewhere
  Tensor m = d.legal_mask({0, 1});
  auto mv = m.to_vector<float>();
  int64_t zeros0 = 0;
  for (int64_t k = 0; k < kChessMoves; ++k) {
    zeros0 += mv[k] == 0.f;
    CHECK((mv[k] == 0.f) == d.is_legal(0, k));
  }
  CHECK(zeros0 == d.legal_count(0));

  // bad files: each error names the file's line and what was expected
  auto bad = [&](const std::string& line) {
    std::ofstream(path) << "# bad\n" << line << "\n";
    return error_of([&] { load_chess_data(path); });
  };
  const std::string good = rows[0][0] + "\t" + rows[0][1] + "\t" + rows[0][2] + "\t" + rows[0][3] + "\t";
  CHECK(bad(good + rows[0][4] + "\t" + rows[0][5]).empty());
  CHECK_THAT(bad(good + rows[0][4]), Catch::Contains("line 2") && Catch::Contains("6 tab-separated fields"));
  CHECK_THAT(bad(good + "a1a2\t" + rows[0][5]), Catch::Contains("strong's move a1a2 is not among"));
  CHECK_THAT(bad("0\t1\trnbqkbnr/pppppppp/8/8 w KQkq - 0 1\te2e4\te2e4\te2e4"), Catch::Contains("8 ranks"));
  CHECK_THAT(bad("0\tx\t" + rows[0][2] + "\t" + rows[0][3] + "\t" + rows[0][4] + "\t" + rows[0][5]),
             Catch::Contains("non-negative integers"));
  CHECK_THAT(error_of([&] { load_chess_data((tmp.dir / "missing.tsv").string()); }),
             Catch::Contains("cannot open"));
  std::ofstream(path) << "# only a header\n";
  CHECK_THAT(error_of([&] { load_chess_data(path); }), Catch::Contains("no positions"));
}

namespace {

train::RunOptions chess_run(const fs::path& out, const std::string& data, const std::string& mode, int64_t steps) {
  train::RunOptions o;
  o.model = "chess-style";
  o.out_dir = out.string();
  o.seed = 1;
  o.steps = steps;
  o.log_every = 10;
  o.sample_every = steps;
  o.checkpoint_every = steps;
  o.quiet = true;
  o.extra = {{"data", data},        {"mode", mode},       {"batch", "16"},    {"channels", "16"},
             {"layers", "2"},       {"key-dim", "16"},    {"d-channels", "8"}, {"d-layers", "1"},
             {"eval-positions", "60"}};
  return o;
}

}  // namespace

TEST_CASE("chess-style: G learns the target's moves, and every move it proposes is legal", "[train][chess]") {
  test::TempDir tmp("duel_chess_style");
  const std::string data = (tmp.dir / "tiny.tsv").string();
  test::write_chess_fixture(data);
  for (const std::string mode : {"supervised", "gan"}) {
    INFO("mode " << mode);
    const fs::path out = tmp.dir / mode;
    train::Run run(chess_run(out, data, mode, 150));
    REQUIRE(train::fit(run).completed);
    auto like = test::metric_series(out, "loss_like");
    REQUIRE(like.size() >= 10);
    CHECK(like.back() < 0.5 * like.front());  // memorises the 36 training positions' moves
    if (mode == "gan") CHECK(test::metric_series(out, "loss_D").size() == like.size());

    // `duel eval` writes each test position's proposal: check them against the file's legal moves
    train::RunOptions o;
    o.model = "chess-style";
    o.out_dir = out.string();
    train::Run done(o);
    auto model = train::load_trained_model(done);
    model->evaluate(done, {});
    std::map<std::string, std::set<std::string>> legal;
    for (auto& r : fixture_rows()) {
      std::istringstream in(r[3]);
      for (std::string m; in >> m;) legal[r[2]].insert(m);
    }
    std::ifstream in(out / "proposed_moves.tsv");
    int64_t checked = 0;
    for (std::string line; std::getline(in, line);) {
      if (line[0] == '#') continue;
      const std::string fen = line.substr(0, line.find('\t')), move = line.substr(line.find('\t') + 1);
      REQUIRE(legal.count(fen));
      CHECK(legal[fen].count(move));
      ++checked;
    }
    CHECK(checked == 6);  // the fixture's test positions (game 9)
  }
}
