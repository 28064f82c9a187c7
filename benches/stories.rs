//! Grouping cost as the window grows: `stories::group` over 1k, 10k and 100k synthetic articles.
//!
//! Articles are synthesised deterministically: a vocabulary of words and entities with Zipf-like
//! frequencies (so some entities, like a "United States", are in many stories), stories of
//! geometric size whose reports share core entities and words, plus background noise words and
//! entities, spread over a two-day window and 200 outlets.

use digestif::model::{Entity, EntityKind};
use digestif::stories::{Background, GroupOptions, StoryArticle, group};

#[allow(dead_code)]
fn main() {
    divan::main();
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples ranks with probability proportional to 1 / (rank + 1).
struct Zipf(Vec<f64>);
impl Zipf {
    fn new(n: usize) -> Self {
        let mut acc = 0.0;
        Zipf(
            (0..n)
                .map(|r| {
                    acc += 1.0 / (r as f64 + 1.0);
                    acc
                })
                .collect(),
        )
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.unit() * self.0[self.0.len() - 1];
        self.0.partition_point(|&c| c < x).min(self.0.len() - 1)
    }
}

fn pseudo_word(mut i: usize, capital: bool) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "ren", "sta", "vor", "del", "qui", "ban", "tor", "eli", "gus", "ham",
        "pri", "zo", "net",
    ];
    let mut s = String::new();
    loop {
        s.push_str(SYL[i % 16]);
        i /= 16;
        if i == 0 {
            break;
        }
    }
    if capital {
        let mut c = s.chars();
        let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or('X');
        s = std::iter::once(first).chain(c).collect();
    }
    s
}

pub struct Synth {
    title: String,
    text: String,
    outlet: String,
    published: i64,
    entities: Vec<Entity>,
}

pub fn synthesise(n: usize, seed: u64) -> Vec<Synth> {
    let mut rng = Rng(seed);
    let words = Zipf::new(30_000);
    let ents = Zipf::new(8_000);
    let kinds = [
        EntityKind::Person,
        EntityKind::Organization,
        EntityKind::Location,
        EntityKind::Misc,
    ];
    let entity = |r: usize, in_title: bool| Entity {
        name: format!("{} {}", pseudo_word(r, true), pseudo_word(r * 7 + 3, true)),
        kind: kinds[r % 4],
        mentions: 1,
        first_offset: 0,
        in_title,
        salience: if in_title { 0.9 } else { 0.4 },
    };
    let start = 1_700_000_000i64;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // a story: geometric size (mean ~8), core entities and words
        let mut size = 1;
        while size < 60 && rng.unit() < 0.875 {
            size += 1;
        }
        let core_e: Vec<usize> = (0..3).map(|_| ents.sample(&mut rng)).collect();
        let core_w: Vec<usize> = (0..6).map(|_| 200 + rng.below(29_000)).collect();
        let t0 = start + rng.below(2 * 86_400) as i64;
        for _ in 0..size.min(n - out.len()) {
            let mut title: Vec<String> = Vec::new();
            title.push(pseudo_word(core_e[0], true));
            for _ in 0..3 {
                title.push(pseudo_word(core_w[rng.below(6)], false));
            }
            for _ in 0..2 {
                title.push(pseudo_word(words.sample(&mut rng), false));
            }
            let mut text: Vec<String> = Vec::new();
            for _ in 0..25 {
                if rng.unit() < 0.3 {
                    text.push(pseudo_word(core_w[rng.below(6)], false));
                } else {
                    text.push(pseudo_word(words.sample(&mut rng), false));
                }
            }
            let mut entities = vec![entity(core_e[0], true)];
            for &e in &core_e[1..] {
                if rng.unit() < 0.7 {
                    entities.push(entity(e, false));
                }
            }
            for _ in 0..2 {
                entities.push(entity(ents.sample(&mut rng), false));
            }
            out.push(Synth {
                title: title.join(" "),
                text: text.join(" ") + ".",
                outlet: format!("outlet{}", rng.below(200)),
                published: t0 + rng.below(6 * 3600) as i64,
                entities,
            });
        }
    }
    out
}

/// The grouping view of the synthetic articles.
pub fn articles(data: &[Synth]) -> Vec<StoryArticle<'_>> {
    data.iter()
        .enumerate()
        .map(|(id, s)| StoryArticle {
            id,
            title: &s.title,
            text: &s.text,
            outlet: &s.outlet,
            url: None,
            published: s.published,
            entities: &s.entities,
            language: None,
        })
        .collect()
}

#[divan::bench(args = [1_000, 10_000, 100_000], sample_count = 3, sample_size = 1)]
fn group_window(bencher: divan::Bencher, n: usize) {
    let data = synthesise(n, 42);
    let articles = articles(&data);
    let bg = Background::new();
    let opts = GroupOptions::default();
    bencher.bench_local(|| group(divan::black_box(&articles), &bg, &opts));
}
