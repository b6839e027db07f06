//! The recording policy: where `recipe run --record FIXTURE` writes what it recorded, and which
//! files of a fixture folder are recordings kept aside rather than cases. It owns the names
//! (`err_*` cases, `NAME.failed.yaml`); writing the fixture is [`crate::fixture`]'s, and saying
//! what happened is the command line's.
//!
//! A failed run never replaces a good fixture: it goes beside it, as `NAME.failed.yaml`. A case
//! named `err_*` is meant to fail, so its failed recording replaces the fixture like a good one.

use std::path::{Path, PathBuf};

/// Where a recording goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The fixture asked for: a new one, a good run's, or an `err_*` case's failed run.
    Fixture(PathBuf),
    /// A failed run beside a fixture that is kept: `NAME.failed.yaml`.
    Beside {
        /// Where the failed run's recording is written.
        failed: PathBuf,
        /// The fixture that stays as it was.
        kept: PathBuf,
    },
}

impl Target {
    /// The file to write.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Target::Fixture(path) => path,
            Target::Beside { failed, .. } => failed,
        }
    }
}

/// Where the recording of a run goes, for `--record FIXTURE`: `run_ok` is whether the run
/// succeeded, `exists` whether `fixture` is already there.
pub(crate) fn target(fixture: &Path, run_ok: bool, exists: bool) -> Target {
    if !run_ok && exists && !meant_to_fail(fixture) {
        Target::Beside { failed: failed_path(fixture), kept: fixture.to_path_buf() }
    } else {
        Target::Fixture(fixture.to_path_buf())
    }
}

/// [`target`], looking at the file system for whether the fixture exists.
pub(crate) fn target_on_disk(fixture: &Path, run_ok: bool) -> Target {
    target(fixture, run_ok, fixture.exists())
}

/// Whether a fixture records a run that is meant to fail: its name starts with `err_`.
pub(crate) fn meant_to_fail(fixture: &Path) -> bool {
    fixture.file_name().is_some_and(|name| name.to_string_lossy().starts_with("err_"))
}

/// Where a failed recording goes when the fixture holds a good one: `NAME.failed.yaml`.
pub(crate) fn failed_path(fixture: &Path) -> PathBuf {
    let stem = fixture.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    fixture.with_file_name(format!("{stem}.failed.yaml"))
}

/// Whether a file in a fixture folder is a failed recording kept beside a good fixture (and so
/// not a case of its own).
pub(crate) fn is_failed_recording(file: &Path) -> bool {
    file.file_stem().is_some_and(|stem| stem.to_string_lossy().ends_with(".failed"))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{Target, failed_path, is_failed_recording, meant_to_fail, target};

    #[test]
    fn a_good_run_writes_the_fixture_whether_or_not_it_exists() {
        let fixture = Path::new("recipes/fixtures/draft/basic.yaml");
        for exists in [false, true] {
            assert_eq!(target(fixture, true, exists), Target::Fixture(fixture.to_path_buf()));
        }
    }

    #[test]
    fn a_failed_run_goes_beside_an_existing_fixture() {
        let fixture = Path::new("recipes/fixtures/draft/basic.yaml");
        let failed = PathBuf::from("recipes/fixtures/draft/basic.failed.yaml");
        assert_eq!(target(fixture, false, true), Target::Beside { failed: failed.clone(), kept: fixture.to_path_buf() });
        assert_eq!(target(fixture, false, true).path(), failed);
    }

    #[test]
    fn a_failed_run_with_no_fixture_yet_becomes_the_fixture() {
        let fixture = Path::new("basic.yaml");
        assert_eq!(target(fixture, false, false), Target::Fixture(fixture.to_path_buf()));
    }

    #[test]
    fn an_err_case_is_meant_to_fail_and_its_recording_replaces_the_fixture() {
        let fixture = Path::new("fixtures/draft/err_no_advisor.yaml");
        assert!(meant_to_fail(fixture));
        assert!(!meant_to_fail(Path::new("fixtures/draft/no_err_advisor.yaml")));
        assert_eq!(target(fixture, false, true), Target::Fixture(fixture.to_path_buf()));
    }

    #[test]
    fn a_failed_recording_is_not_a_case() {
        assert_eq!(failed_path(Path::new("a/basic.yml")), PathBuf::from("a/basic.failed.yaml"));
        assert!(is_failed_recording(&failed_path(Path::new("a/basic.yaml"))));
        assert!(!is_failed_recording(Path::new("a/basic.yaml")));
    }
}
