// make_env: the name -> environment factory.
#include "rl/envs/env.h"

#include <sstream>

#include "rl/envs/asterix.h"
#include "rl/envs/breakout.h"
#include "rl/envs/cartpole.h"
#include "rl/envs/freeway.h"
#include "rl/envs/seaquest.h"
#include "rl/envs/space_invaders.h"
#include "tensor/error.h"

namespace duel::rl {

void Env::observe(uint8_t*) const {
  DUEL_FAIL(name(), ".observe: observations are float32; use observe(float*)");
}

const std::vector<std::string>& env_names() {
  static const std::vector<std::string> names = {"cartpole", "breakout", "freeway",
                                                 "asterix", "space_invaders", "seaquest"};
  return names;
}

namespace {
std::string valid_names() {
  std::ostringstream os;
  for (size_t i = 0; i < env_names().size(); ++i) os << (i ? ", " : "") << env_names()[i];
  return os.str();
}
}  // namespace

std::unique_ptr<MinAtarEnv> make_minatar_env(const std::string& name, const MinAtarOptions& options) {
  if (name == "breakout") return std::make_unique<BreakoutEnv>(options);
  if (name == "freeway") return std::make_unique<FreewayEnv>(options);
  if (name == "asterix") return std::make_unique<AsterixEnv>(options);
  if (name == "space_invaders") return std::make_unique<SpaceInvadersEnv>(options);
  if (name == "seaquest") return std::make_unique<SeaquestEnv>(options);
  DUEL_FAIL("make_minatar_env: unknown MinAtar game '", name,
            "'; valid names: breakout, freeway, asterix, space_invaders, seaquest");
}

std::unique_ptr<Env> make_env(const std::string& name) {
  if (name == "cartpole") return std::make_unique<CartPoleEnv>();
  for (const std::string& n : env_names())
    if (n == name) return make_minatar_env(name);
  DUEL_FAIL("make_env: unknown environment '", name, "'; valid names: ", valid_names());
}

}  // namespace duel::rl
