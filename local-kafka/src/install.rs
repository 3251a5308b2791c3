//! Where the JVM and the jars are.
//!
//! `scripts/setup.sh` copies each distribution's runtime closure from Maven
//! Central (the POMs in `local-kafka/jvm/`) into a folder of its own under
//! `.local/jvm/`: `kafka` (Kafka 4, KRaft), `kafka-zk` (Kafka 3.9, the last
//! line with ZooKeeper mode) and `zookeeper`. They never share a class
//! path: Kafka 3.9 and 4 differ in Scala, Jackson and logging libraries.
//!
//! Contract: [`Install::find`] fails with [`KafkaError::NotInstalled`],
//! naming the folder and the command that fills it, when a distribution the
//! caller needs is missing; it never downloads anything.

use std::path::{Path, PathBuf};

use crate::KafkaError;

/// Environment variable naming the folder that holds the distributions
/// (default: `.local/jvm` of the workspace).
pub const LIBS_ENV: &str = "IMDB_JVM_LIBS";

/// One of the JVM distributions the launcher runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Apache Kafka 4 (KRaft).
    Kafka,
    /// Apache Kafka 3.9 (ZooKeeper mode).
    KafkaZk,
    /// Apache ZooKeeper 3.9.
    ZooKeeper,
}

impl Distribution {
    /// Its folder under the libs root.
    pub const fn folder(self) -> &'static str {
        match self {
            Distribution::Kafka => "kafka",
            Distribution::KafkaZk => "kafka-zk",
            Distribution::ZooKeeper => "zookeeper",
        }
    }

    /// The jar whose presence says the folder is filled, and whose name
    /// carries the version (`kafka_2.13-4.4.0.jar`).
    const fn marker_prefix(self) -> &'static str {
        match self {
            Distribution::Kafka | Distribution::KafkaZk => "kafka_2.13-",
            Distribution::ZooKeeper => "zookeeper-3",
        }
    }
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
    pub fn find(libs: Option<&Path>, needed: &[Distribution]) -> Result<Install, KafkaError> {
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
        format!("{}/*", self.libs.join(d.folder()).display())
    }

    /// The distribution's version, read off its main jar's name.
    pub fn version(&self, d: Distribution) -> Result<String, KafkaError> {
        let folder = self.libs.join(d.folder());
        let not_installed = || KafkaError::NotInstalled { folder: folder.clone() };
        let entries = std::fs::read_dir(&folder).map_err(|_| not_installed())?;
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .find_map(|name| {
                name.strip_prefix(d.marker_prefix())
                    .and_then(|rest| rest.strip_suffix(".jar"))
                    .map(|v| if d == Distribution::ZooKeeper { format!("3{v}") } else { v.to_owned() })
            })
            .ok_or_else(not_installed)
    }
}

/// `$JAVA_HOME/bin/java`, else the first `java` on `PATH`.
fn java() -> Result<PathBuf, KafkaError> {
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
        .ok_or(KafkaError::NoJava)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_off_the_main_jar() {
        let dir = tempfile::tempdir().unwrap();
        for (folder, jar) in [("kafka", "kafka_2.13-4.4.0.jar"), ("zookeeper", "zookeeper-3.9.5.jar")] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
            std::fs::write(dir.path().join(folder).join(jar), b"").unwrap();
            std::fs::write(dir.path().join(folder).join("zookeeper-jute-3.9.5.jar"), b"").unwrap();
        }
        let install = Install { java: PathBuf::from("java"), libs: dir.path().to_path_buf() };
        assert_eq!(install.version(Distribution::Kafka).unwrap(), "4.4.0");
        assert_eq!(install.version(Distribution::ZooKeeper).unwrap(), "3.9.5");
        let missing = install.version(Distribution::KafkaZk).unwrap_err();
        assert!(
            missing.to_string().contains("kafka-zk") && missing.to_string().contains("scripts/setup.sh"),
            "{missing}"
        );
    }
}
