#include "train/registry.h"

#include <limits>

#include "gan/models.h"
#include "rl/dqn_model.h"

namespace duel::train {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

}  // namespace

// The options of every model, with the model's defaults, followed by the model's own.
ModelInfo with_common_options(ModelInfo info) {
  const RunDefaults& d = info.defaults;
  OptionTable t;
  t.add(Option::integer("seed", "", 0, 0, kMax, "random seed (networks, noise, data order)"));
  t.add(Option::integer("steps", "", d.steps, 1, kMax, "training length in " + d.step_name + "s").resumable());
  t.add(Option::choice("device", "", "cpu", {"cpu", "sim", "cuda"},
                       "where tensors live: the CPU, the SIMT emulator or a CUDA GPU")
            .resumable());
  t.add(Option::text("out", "", "runs/<model>", "run folder (checkpoint, metrics, pictures)").not_stored());
  t.add(Option::integer("log-every", "", d.log_every, 1, kMax, d.step_name + "s between logged losses").resumable());
  t.add(Option::integer("sample-every", "", d.sample_every, 1, kMax,
                        d.step_name + "s between snapshots (sample pictures, evaluations)")
            .resumable());
  t.add(Option::integer("checkpoint-every", "", d.checkpoint_every, 1, kMax, d.step_name + "s between checkpoints")
            .resumable());
  t.add(Option::flag("no-resume", "start afresh even if the run folder has a checkpoint").not_stored());
  t.add(Option::flag("quiet", "no progress bar or summary").not_stored());
  t.add(Option::flag("sync-bn", "under mpirun: batch norm statistics over the whole global batch, not per rank")
            .not_stored());
  t.add(Option::flag("keep-denormals",
                     "compute with denormal floats instead of flushing them to zero (much slower on x86 CPUs "
                     "once optimizer state decays into that range)")
            .not_stored());
  for (auto& o : info.options.options()) t.add(o);
  for (auto& p : info.presets) t.add_preset(p);
  info.options = std::move(t);
  return info;
}

const std::vector<ModelInfo>& models() {
  static const std::vector<ModelInfo> all = [] {
    std::vector<ModelInfo> v;
    // in the survey's order; the judge (not a survey model) last
    for (ModelInfo (*entry)() : {gan::vae_model, gan::char_rnn_model, gan::gan_model, gan::wgan_model, gan::wgan_gp_model, gan::lsgan_qi_model,
                                 gan::ebgan_model, gan::began_model, gan::dcgan_model, gan::acgan_model,
                                 gan::infogan_model, gan::ssl_baseline_model, gan::sgan_model,
                                 gan::improved_gan_model, gan::triple_gan_model, gan::bad_gan_model, gan::seqgan_model, gan::chess_style_model, gan::segan_model, rl::dqn_model, gan::judge_model})
      v.push_back(with_common_options(entry()));
    return v;
  }();
  return all;
}

const ModelInfo& find_model(const std::string& name) {
  std::string names;
  for (auto& m : models()) {
    if (m.name == name) return m;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  DUEL_FAIL("unknown model '", name, "'; available: ", names, " (see `duel list`)");
}

}  // namespace duel::train
