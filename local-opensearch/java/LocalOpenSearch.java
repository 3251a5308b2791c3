/*
 * Starts one OpenSearch node in this JVM, from the jars on the class path
 * (Maven Central's, gathered by scripts/setup.sh), with the plugins the
 * project's mappings and queries need loaded from the class path too.
 *
 * Usage: java -cp <jars>:<this> LocalOpenSearch <home>
 *
 * <home>/config/opensearch.yml holds the node's settings (path.data,
 * ports, discovery); imdb-local-opensearch writes it. The node
 * runs until SIGTERM, which closes it cleanly (flushes, leaves the
 * cluster) before the JVM exits.
 *
 * OpenSearch's own Bootstrap (security manager, JNA, bootstrap checks,
 * plugin folders) is skipped: that is what the distribution's start script
 * is for, and none of it is needed on loopback. What remains is Node, the
 * same class the distribution runs, reached through the constructor that
 * takes class-path plugins (the one OpenSearch's test framework uses).
 */

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class LocalOpenSearch {
    /** HTTP and transport (Netty), analyzers (folding, stemming, edge n-grams), extra field types, _delete_by_query. */
    static final List<Class<? extends Plugin>> PLUGINS =
        List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, MapperExtrasPlugin.class, ReindexPlugin.class);

    static final class ClassPathNode extends Node {
        ClassPathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: LocalOpenSearch <home>");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        Path config = home.resolve("config");
        if (!Files.isRegularFile(config.resolve("opensearch.yml"))) {
            System.err.println("no opensearch.yml in " + config);
            System.exit(2);
        }
        Environment environment =
            InternalSettingsPreparer.prepareEnvironment(
            Settings.builder().put("path.home", home.toString()).build(), Map.of(), config, () -> "local");
        // Node refuses to start without them; they stay empty (plugins come from the class path).
        Files.createDirectories(environment.modulesFile());
        Files.createDirectories(environment.pluginsFile());
        Node node = new ClassPathNode(environment, PLUGINS);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "local-opensearch-shutdown"));
        try {
            node.start();
        } catch (Exception e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.out.println("node started: " + environment.settings().get("node.name"));
        // Node's threads are daemons: this one keeps the JVM alive until SIGTERM.
        closed.await();
    }
}
