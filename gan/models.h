// The GAN models of the survey, one file each; this header is their index (the registry in
// train/registry.cpp lists the entry functions; `duel list` prints them).
//
//   vae       2.1    Kingma and Welling 2014     gan/vae.cpp
//   gan       3.1.1  Goodfellow et al. 2014      gan/gan.cpp
//   wgan      3.2.2  Arjovsky et al. 2017        gan/wgan.cpp
//   wgan-gp   3.2.3  Gulrajani et al. 2017       gan/wgan_gp.cpp
//   lsgan-qi  3.3.1  Qi 2017 (loss-sensitive)    gan/lsgan_qi.cpp
//   ebgan     3.4.1  Zhao et al. 2017            gan/ebgan.cpp
//   began     3.4.2  Berthelot et al. 2017       gan/began.cpp
//   dcgan     4.1.1  Radford et al. 2016         gan/dcgan.cpp
//   acgan     4.3    Odena et al. 2017           gan/acgan.cpp
//   infogan   4.4    Chen et al. 2016            gan/infogan.cpp
//   ssl-baseline 5.1 the semi-supervised protocol's baseline   gan/ssl_baseline.cpp (gan/semi_supervised.h)
//   sgan      5.1    Odena 2016                  gan/sgan.cpp
//   improved-gan 5.1 Salimans et al. 2016        gan/improved_gan.cpp
//   triple-gan 5.1   Li et al. 2017              gan/triple_gan.cpp
//   bad-gan   5.1    Dai et al. 2017             gan/bad_gan.cpp
//   char-rnn  2.2    Graves 2013 (text)          gan/char_rnn.cpp (corpora: data/text.h)
//   seqgan    5.5    Yu et al. 2017              gan/seqgan.cpp
//   chess-style 5.6  Chidambaram and Qi 2017     gan/chess_style.cpp (positions: data/chess.h)
//   segan     5.7    Pascual et al. 2017         gan/segan.cpp (speech pairs: data/audio.h)
//   judge     -      the evaluation classifier   gan/judge.cpp
//
// Shared pieces: gan/losses.h (the adversarial losses and the gradient penalty), gan/nets.h
// (the networks), gan/data.h (data sources), gan/model.h (what every GAN does besides its step).
#pragma once
#include "train/registry.h"

namespace duel::gan {

// Iterations between checkpoints when --checkpoint-every is not given (the GANs).
constexpr int64_t kCheckpointEvery = 200;

train::ModelInfo vae_model();
train::ModelInfo gan_model();
train::ModelInfo wgan_model();
train::ModelInfo wgan_gp_model();
train::ModelInfo lsgan_qi_model();
train::ModelInfo ebgan_model();
train::ModelInfo began_model();
train::ModelInfo dcgan_model();
train::ModelInfo acgan_model();
train::ModelInfo infogan_model();
train::ModelInfo ssl_baseline_model();
train::ModelInfo sgan_model();
train::ModelInfo improved_gan_model();
train::ModelInfo triple_gan_model();
train::ModelInfo bad_gan_model();
train::ModelInfo char_rnn_model();
train::ModelInfo seqgan_model();
train::ModelInfo chess_style_model();
train::ModelInfo segan_model();
train::ModelInfo judge_model();

}  // namespace duel::gan
