//! Where the JVM and the jars are.
//!
//! `scripts/setup.sh` copies each distribution's runtime closure from Maven
//! Central (one POM per distribution, beside the launcher that runs it)
//! into a folder of its own under `.local/jvm/`. Distributions never share
//! a class path: Kafka 3.9 and 4, ZooKeeper and OpenSearch differ in Scala,
//! Jackson, Netty and logging libraries.
//!
//! Contract: [`Install::find`] fails with [`JvmError::NotInstalled`],
//! naming the folder and the command that fills it, when a distribution the
//! caller needs is missing; it never downloads anything.

use std::path::{Path, PathBuf};

use crate::JvmError;

/// Environment variable naming the folder that holds the distributions
/// (default: `.local/jvm` of the workspace).
pub const LIBS_ENV: &str = "IMDB_JVM_LIBS";

/// A JVM distribution: a folder of jars under the libs root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distribution {
    /// What it is, for messages ("Kafka").
    pub name: &'static str,
    /// Its folder under the libs root.
    pub folder: &'static str,
    /// The start of its main jar's name, before the version
    /// (`kafka_2.13-` for `kafka_2.13-4.4.0.jar`): the jar whose presence
    /// says the folder is filled.
    pub jar_prefix: &'static str,
}

/// A Java runtime and the distributions' folders.
#[derive(Debug, Clone)]
pub struct Install {
    /// The `java` binary.
    pub java: PathBuf,
    /// The folder holding one folder per [`Distribution`].
    pub libs: PathBuf,
}

/// The default libs root: `.local/jvm` of the workspace this crate was
/// built in, where `scripts/setup.sh` puts them.
pub fn default_libs() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).join(".local/jvm")
}

impl Install {
    /// Java from `$JAVA_HOME` (else `java` on `PATH`) and the libs root
    /// from `libs`, else [`LIBS_ENV`], else [`default_libs`]; checks that
    /// each of `needed` is there.
    pub fn find(libs: Option<&Path>, needed: &[Distribution]) -> Result<Install, JvmError> {
        let libs = match (libs, std::env::var_os(LIBS_ENV)) {
            (Some(libs), _) => libs.to_path_buf(),
            (None, Some(env)) if !env.is_empty() => PathBuf::from(env),
            _ => default_libs(),
        };
        let install = Install { java: java()?, libs };
        for d in needed {
            install.version(*d)?;
        }
        Ok(install)
    }

    /// The class path of a distribution: every jar in its folder.
    pub fn class_path(&self, d: Distribution) -> String {
        format!("{}/*", self.libs.join(d.folder).display())
    }

    /// The distribution's version, read off its main jar's name (the
    /// version starts with a digit: `zookeeper-jute-3.9.5.jar` is not
    /// ZooKeeper's main jar).
    pub fn version(&self, d: Distribution) -> Result<String, JvmError> {
        let folder = self.libs.join(d.folder);
        let not_installed = || JvmError::NotInstalled { what: d.name, folder: folder.clone() };
        let entries = std::fs::read_dir(&folder).map_err(|_| not_installed())?;
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .find_map(|name| {
                name.strip_prefix(d.jar_prefix)
                    .and_then(|rest| rest.strip_suffix(".jar"))
                    .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                    .map(str::to_owned)
            })
            .ok_or_else(not_installed)
    }
}

/// `$JAVA_HOME/bin/java`, else the first `java` on `PATH`.
fn java() -> Result<PathBuf, JvmError> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let java = Path::new(&home).join("bin/java");
        if java.is_file() {
            return Ok(java);
        }
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("java"))
        .find(|p| p.is_file())
        .ok_or(JvmError::NoJava)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAFKA: Distribution = Distribution { name: "Kafka", folder: "kafka", jar_prefix: "kafka_2.13-" };
    const ZOOKEEPER: Distribution = Distribution { name: "ZooKeeper", folder: "zookeeper", jar_prefix: "zookeeper-" };
    const MISSING: Distribution = Distribution { name: "Kafka 3.9", folder: "kafka-zk", jar_prefix: "kafka_2.13-" };

    #[test]
    fn versions_are_read_off_the_main_jar() {
        let dir = tempfile::tempdir().unwrap();
        for (folder, jar) in [("kafka", "kafka_2.13-4.4.0.jar"), ("zookeeper", "zookeeper-3.9.5.jar")] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
            std::fs::write(dir.path().join(folder).join("zookeeper-jute-3.9.5.jar"), b"").unwrap();
            std::fs::write(dir.path().join(folder).join(jar), b"").unwrap();
        }
        let install = Install { java: PathBuf::from("java"), libs: dir.path().to_path_buf() };
        assert_eq!(install.version(KAFKA).unwrap(), "4.4.0");
        assert_eq!(install.version(ZOOKEEPER).unwrap(), "3.9.5");
        let missing = install.version(MISSING).unwrap_err().to_string();
        assert!(
            missing.contains("kafka-zk") && missing.contains("Kafka 3.9") && missing.contains("scripts/setup.sh"),
            "{missing}"
        );
    }
}
