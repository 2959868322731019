#include "gan/birthday.h"

#include <algorithm>
#include <cmath>
#include <queue>

#include "tensor/ops/shape_ops.h"

namespace duel::gan {
namespace {

// rows of a [N, D] tensor as float64 host vectors
std::vector<std::vector<double>> host_rows(const Tensor& t) {
  DUEL_CHECK(t.dim() == 2 && t.size(0) >= 2, "birthday test: expected features [N >= 2, D], got ", shape_str(t.sizes()));
  const int64_t n = t.size(0), d = t.size(1);
  std::vector<double> flat = t.to(kCPU).contiguous().to_vector<double>();
  std::vector<std::vector<double>> rows(n);
  for (int64_t i = 0; i < n; ++i) rows[i].assign(flat.begin() + i * d, flat.begin() + (i + 1) * d);
  return rows;
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
  return std::sqrt(s);
}

double rms_pixel_distance(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to(kCPU).contiguous().to_vector<double>(), y = b.to(kCPU).contiguous().to_vector<double>();
  double s = 0;
  for (size_t k = 0; k < x.size(); ++k) s += (x[k] - y[k]) * (x[k] - y[k]);
  return std::sqrt(s / (double)x.size());
}

}  // namespace

double BirthdayResult::support() const {
  const double s = (double)(s_half ? s_half : (rows.empty() ? 0 : rows.back().s));
  return s * s;
}

std::vector<ClosePair> closest_pairs(const Tensor& features, int64_t k) {
  auto rows = host_rows(features);
  const int64_t n = (int64_t)rows.size();
  auto farther = [](const ClosePair& a, const ClosePair& b) { return a.feature_distance < b.feature_distance; };
  std::priority_queue<ClosePair, std::vector<ClosePair>, decltype(farther)> best(farther);  // max-heap of the k best
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      const double d = distance(rows[i], rows[j]);
      if ((int64_t)best.size() < k) {
        best.push({i, j, d, 0.0});
      } else if (k > 0 && d < best.top().feature_distance) {
        best.pop();
        best.push({i, j, d, 0.0});
      }
    }
  std::vector<ClosePair> out;
  while (!best.empty()) {
    out.push_back(best.top());
    best.pop();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

double nearest_neighbour_quantile(const Tensor& features, double q) {
  DUEL_CHECK(q >= 0 && q <= 1, "nearest_neighbour_quantile: q must be in [0, 1], got ", q);
  auto rows = host_rows(features);
  const int64_t n = (int64_t)rows.size();
  std::vector<double> nn(n, INFINITY);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      const double d = distance(rows[i], rows[j]);
      nn[i] = std::min(nn[i], d);
      nn[j] = std::min(nn[j], d);
    }
  std::sort(nn.begin(), nn.end());
  const size_t at = std::min<size_t>(nn.size() - 1, (size_t)std::floor(q * (double)(n - 1)));
  return nn[at];
}

BirthdayResult birthday_test(const std::function<Tensor(int64_t)>& draw, JudgeNet& judge, double threshold,
                             const BirthdayOptions& o) {
  DUEL_CHECK(o.s_min >= 2 && o.s_max >= o.s_min && o.batches >= 1, "birthday test: need 2 <= s_min <= s_max and ",
             "batches >= 1, got s_min ", o.s_min, ", s_max ", o.s_max, ", batches ", o.batches);
  BirthdayResult r;
  r.threshold = threshold;
  for (int64_t s = o.s_min; s <= o.s_max; s *= 2) {
    BirthdayRow row{s, o.batches, 0};
    Tensor last_images, last_features;
    for (int64_t b = 0; b < o.batches; ++b) {
      Tensor images = draw(s);
      DUEL_CHECK(images.dim() == 4 && images.size(0) == s, "birthday test: the sampler returned ",
                 shape_str(images.sizes()), " for a batch of ", s, " images");
      Tensor features = judge_features(judge, images);
      auto nearest = closest_pairs(features, 1);
      if (nearest[0].feature_distance < threshold) ++row.with_duplicate;
      last_images = images;
      last_features = features;
    }
    r.rows.push_back(row);
    const bool half = 2 * row.with_duplicate >= row.batches;
    if (half || 2 * s > o.s_max) {
      // the closest pairs of the last batch at this s, for a person to judge
      r.closest = closest_pairs(last_features, o.pairs);
      std::vector<Tensor> shown;
      for (ClosePair& p : r.closest) {
        Tensor a = last_images.narrow(0, p.i, 1), c = last_images.narrow(0, p.j, 1);
        p.pixel_distance = rms_pixel_distance(a, c);
        shown.push_back(a);
        shown.push_back(c);
      }
      if (!shown.empty()) r.closest_images = cat(shown, 0);
    }
    if (half) {
      r.s_half = s;
      break;
    }
  }
  return r;
}

}  // namespace duel::gan
