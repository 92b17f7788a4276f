//! Password hashing on threads of its own: bcrypt is the most expensive thing
//! Sesame does, and a storm of logins must not starve other requests.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread;

use sesame_kernel::StorageError;
use sesame_users::{Password, PasswordHasher, UsersError};

type Job = Box<dyn FnOnce(&dyn PasswordHasher) + Send>;

/// Jobs queued per hashing thread before callers wait to queue more.
const QUEUE_PER_THREAD: usize = 64;

/// A [`PasswordHasher`] that runs another one on a fixed set of threads at
/// the lowest scheduling priority: hashing gets every idle cycle, but a
/// request that needs the CPU for something quick gets it first. Callers (already on
/// the blocking pool, never on an async worker) wait for the answer.
pub(crate) struct HashingPool {
    jobs: SyncSender<Job>,
    hasher: Arc<dyn PasswordHasher>,
    queued: usize,
}

/// The threads each actix-web worker gives blocking work (set in `app.rs`;
/// actix's default divides 512 among the workers).
pub(crate) const BLOCKING_THREADS_PER_WORKER: usize = 512;

/// What password checks waiting for a hashing thread may hold at most:
/// half of one worker's blocking threads, since a few connections, which
/// stay on one worker, may bring them all.
const MOST_WAITING: usize = BLOCKING_THREADS_PER_WORKER / 2;

impl HashingPool {
    /// Starts `threads` hashing threads (at least one) around `hasher`.
    pub(crate) fn start(
        hasher: Arc<dyn PasswordHasher>,
        threads: usize,
    ) -> std::io::Result<HashingPool> {
        let threads = threads.max(1);
        let queued = threads * QUEUE_PER_THREAD;
        let (jobs, queue) = sync_channel::<Job>(queued);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for number in 0..threads {
            let queue = queue.clone();
            let hasher = hasher.clone();
            thread::Builder::new()
                .name(format!("sesame-hash-{number}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panicking job (a bug in a hasher) drops its reply,
                        // so its caller sees a failed check; the thread lives on.
                        let hasher = hasher.as_ref();
                        if catch_unwind(AssertUnwindSafe(|| job(hasher))).is_err() {
                            tracing::error!("a password hashing job panicked");
                        }
                    }
                })?;
        }
        Ok(HashingPool {
            jobs,
            hasher,
            queued,
        })
    }

    /// How many checks and hashes may be under way at once (see
    /// `AccountService::with_hashing_places`): what the queue holds, and
    /// never more than [`MOST_WAITING`].
    pub(crate) fn places(&self) -> usize {
        self.queued.min(MOST_WAITING)
    }

    /// Runs `work` on a hashing thread and waits for its answer; `None` if
    /// it panicked or the threads are gone.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn PasswordHasher) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, answer) = sync_channel(1);
        let span = tracing::Span::current();
        let job: Job = Box::new(move |hasher| {
            let _ = reply.send(span.in_scope(|| work(hasher)));
        });
        self.jobs.send(job).ok()?;
        answer.recv().ok()
    }
}

fn failed() -> UsersError {
    UsersError::Storage(StorageError(
        "password hashing failed (the job panicked or the hashing threads stopped)".into(),
    ))
}

impl PasswordHasher for HashingPool {
    fn hash(&self, password: &Password) -> Result<String, UsersError> {
        let password = password.clone();
        self.run(move |hasher| hasher.hash(&password))
            .unwrap_or_else(|| Err(failed()))
    }

    fn verify(&self, candidate: &str, stored_hash: &str) -> bool {
        let (candidate, stored_hash) = (candidate.to_owned(), stored_hash.to_owned());
        self.run(move |hasher| hasher.verify(&candidate, &stored_hash))
            .unwrap_or(false)
    }

    fn needs_rehash(&self, stored_hash: &str) -> bool {
        // No hashing: answered on the caller's thread.
        self.hasher.needs_rehash(stored_hash)
    }

    fn spend_verify_time(&self, candidate: &str) {
        let candidate = candidate.to_owned();
        self.run(move |hasher| hasher.spend_verify_time(&candidate));
    }
}

/// Hashing threads run under `SCHED_IDLE`: they get every cycle nothing
/// else wants, and a request thread that wakes up takes the core from them at
/// once (with a lower nice value they would still hold it for a time slice,
/// which shows in the latency of quick requests during a login storm). Where
/// that policy is refused, nice 19.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // On Linux, scheduling policy and nice value belong to the thread, and
    // 0 names the calling one.
    // SAFETY: both calls only read their arguments; `param` outlives the call.
    let idle = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if idle != 0 {
        // SAFETY: as above.
        let niced = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
        if niced != 0 {
            tracing::debug!("could not lower the priority of a hashing thread");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_users::BcryptHasher;

    #[test]
    fn hashes_and_verifies_on_its_threads() {
        let pool = HashingPool::start(Arc::new(BcryptHasher::new(4).unwrap()), 2).unwrap();
        let password = Password::new("Xk92!dumbo-lamp", &[]).unwrap();
        let hash = pool.hash(&password).unwrap();
        assert!(hash.starts_with("$bcrypt-sha256$v=2,t=2b,r=4$") && !hash.contains("dumbo"));
        assert!(pool.verify("Xk92!dumbo-lamp", &hash));
        assert!(!pool.verify("Xk92!dumbo-lamq", &hash));
    }

    #[test]
    fn callers_from_many_threads_all_get_their_own_answer() {
        let pool =
            Arc::new(HashingPool::start(Arc::new(BcryptHasher::new(4).unwrap()), 2).unwrap());
        let answers: Vec<_> = (0..8)
            .map(|n| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let secret = format!("secret-number-{n}-Xk92!");
                    let hash = pool.hash(&Password::new(&secret, &[]).unwrap()).unwrap();
                    (
                        pool.verify(&secret, &hash),
                        pool.verify("other-Xk92!", &hash),
                    )
                })
            })
            .map(|caller| caller.join().unwrap())
            .collect();
        assert!(answers.iter().all(|&(right, wrong)| right && !wrong));
    }

    /// A hasher with a bug: it panics on the password "boom".
    struct Panicky(BcryptHasher);

    impl PasswordHasher for Panicky {
        fn hash(&self, password: &Password) -> Result<String, UsersError> {
            assert_ne!(password.expose(), "boom-Xk92!lamp", "a bug");
            self.0.hash(password)
        }

        fn verify(&self, candidate: &str, stored_hash: &str) -> bool {
            assert_ne!(candidate, "boom", "a bug");
            self.0.verify(candidate, stored_hash)
        }

        fn spend_verify_time(&self, candidate: &str) {
            self.0.spend_verify_time(candidate);
        }
    }

    #[test]
    fn a_panicking_job_fails_its_caller_and_the_thread_lives_on() {
        let pool = HashingPool::start(Arc::new(Panicky(BcryptHasher::new(4).unwrap())), 1).unwrap();
        let hash = pool
            .hash(&Password::new("Xk92!dumbo-lamp", &[]).unwrap())
            .unwrap();
        // More panics than threads: each would have killed the only one.
        for _ in 0..3 {
            assert!(!pool.verify("boom", &hash));
            let boom = Password::new("boom-Xk92!lamp", &[]).unwrap();
            assert!(matches!(pool.hash(&boom), Err(UsersError::Storage(_))));
        }
        assert!(pool.verify("Xk92!dumbo-lamp", &hash));
        assert!(!pool.verify("Xk92!dumbo-lamq", &hash));
    }
}
