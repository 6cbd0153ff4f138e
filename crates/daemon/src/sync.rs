//! The daemon's one policy for poisoned `std` locks: take the guard anyway.
//!
//! A lock is poisoned when a thread panicked while holding it. The daemon answers a panicking
//! request `internal` and keeps serving, so a poisoned lock must not turn every later request
//! into a second panic. Taking the guard is sound here because every critical section guarded
//! by these locks is a single update of a map, a counter or an `Option` with no `.await` inside:
//! a panic cannot leave one half-applied.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// `Mutex::lock` under the poison policy above.
pub(crate) trait MutexExt<T> {
    /// Locks, taking the guard of a poisoned mutex.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> MutexExt<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `RwLock::read`/`write` under the poison policy above.
pub(crate) trait RwLockExt<T> {
    /// Read-locks, taking the guard of a poisoned lock.
    fn read_locked(&self) -> RwLockReadGuard<'_, T>;
    /// Write-locks, taking the guard of a poisoned lock.
    fn write_locked(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> RwLockExt<T> for RwLock<T> {
    fn read_locked(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }
    fn write_locked(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}
