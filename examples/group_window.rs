//! Grouping cost of one synthetic window, for CPU-time measurements (`perf stat`, `/usr/bin/time`)
//! on a shared machine where wall-clock bench medians are inflated by other work. Uses the same
//! deterministic synthetic articles as `cargo bench --bench stories`.
//!
//! ```text
//! cargo build --release --example group_window
//! perf stat -e task-clock target/release/examples/group_window 10000 [repeats]
//! ```
//!
//! Prints the window size, the stories found, and the wall-clock and CPU seconds (all threads of
//! the process) of each `group` call. `RAYON_NUM_THREADS=1` runs it on one core.

#[path = "../benches/stories.rs"]
#[allow(dead_code)]
mod synth;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let repeats: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let data = synth::synthesise(n, 42);
    let articles = synth::articles(&data);
    let bg = digestif::stories::Background::new();
    let opts = digestif::stories::GroupOptions::default();
    for _ in 0..repeats {
        let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
        let stories = digestif::stories::group(&articles, &bg, &opts);
        println!(
            "articles {n} stories {} wall_seconds {:.3} cpu_seconds {:.3}",
            stories.len(),
            wall.elapsed().as_secs_f64(),
            cpu_seconds() - cpu
        );
    }
    Ok(())
}

/// CPU time of the process (every thread), in seconds.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass and nothing else.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
