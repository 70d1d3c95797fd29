//! Helpers shared by the benchmark binaries: numeric flags and the servers they start.

use std::process::Child;

/// A server process started for a benchmark, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The number after flag `name` in `args`, or `default` when the flag is absent.
///
/// ```
/// let args: Vec<String> = ["x", "--parts", "8"].iter().map(|s| s.to_string()).collect();
/// assert_eq!(frocket_bench::arg(&args, "--parts", 4), Ok(8u64));
/// assert_eq!(frocket_bench::arg(&args, "--users", 4), Ok(4u64));
/// ```
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
        None => Ok(default),
    }
}
