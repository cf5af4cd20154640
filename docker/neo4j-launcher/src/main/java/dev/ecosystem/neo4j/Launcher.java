package dev.ecosystem.neo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.api.impl.index.LuceneSettings;

/**
 * Embeds Neo4j Community 5 and serves Bolt on loopback, for local development and tests.
 *
 * <pre>
 *   java [-Dlauncher.bolt.host=127.0.0.1] [-Dlauncher.bolt.port=7687] [-Dlauncher.pagecache.mb=256] \
 *        [-Dlauncher.vector.merge.factor=4] [-Dlauncher.pidfile=PATH] -jar neo4j-launcher.jar HOME_DIR
 * </pre>
 *
 * HOME_DIR holds data/ and logs/ (Neo4j's own layout). Authentication is disabled and the HTTP
 * connector is off: only use this bound to loopback. SIGTERM / SIGINT shut the DBMS down cleanly.
 */
public final class Launcher {

    private Launcher() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: java -jar neo4j-launcher.jar HOME_DIR");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath().normalize();
        Files.createDirectories(home);
        String host = System.getProperty("launcher.bolt.host", "127.0.0.1");
        int port = Integer.getInteger("launcher.bolt.port", 7687);
        long pageCacheMb = Long.getLong("launcher.pagecache.mb", 256L);
        // A vector index is a Lucene index, searched one segment after another: its search time
        // grows with the segment count. Neo4j merges a vector index's segments only once 50 of a
        // size have piled up (internal.dbms.index.vector.standard_merge_factor), so lore written
        // in many small transactions was searched in ~20 segments (~70 ms at 100,000 vectors,
        // against ~7 ms for one index of 10,000). Merging at 4 keeps a few; writes pay the merges.
        int vectorMergeFactor = Integer.getInteger("launcher.vector.merge.factor", 4);
        String pidFileProp = System.getProperty("launcher.pidfile");
        Path pidFile = pidFileProp == null || pidFileProp.isEmpty() ? null : Path.of(pidFileProp);
        long pid = ProcessHandle.current().pid();
        if (pidFile != null) {
            Files.writeString(pidFile, pid + "\n");
        }

        Instant started = Instant.now();
        log("starting Neo4j (home " + home + ", bolt " + host + ":" + port + ", page cache " + pageCacheMb + "m)");

        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                    .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    // Bolt waits 5 s + 5 s for idle connections/threads on shutdown by default; the
                    // databases are already checkpointed and stopped by then, so keep it short.
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(HttpConnector.enabled, false)
                    .setConfig(HttpsConnector.enabled, false)
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMb))
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    .setConfig(LuceneSettings.vector_standard_merge_factor, vectorMergeFactor)
                    .build();
        } catch (RuntimeException e) {
            System.err.println("[neo4j-launcher] failed to start Neo4j: " + e);
            e.printStackTrace();
            if (pidFile != null) {
                Files.deleteIfExists(pidFile);
            }
            System.exit(1);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("shutdown requested, stopping Neo4j");
            try {
                dbms.shutdown();
                log("Neo4j stopped cleanly");
            } catch (Throwable t) {
                System.err.println("[neo4j-launcher] error during shutdown: " + t);
                t.printStackTrace();
            } finally {
                if (pidFile != null) {
                    try {
                        String recorded = Files.readString(pidFile).trim();
                        if (recorded.equals(Long.toString(pid))) {
                            Files.deleteIfExists(pidFile);
                        }
                    } catch (Exception ignored) {
                        // the pid file is advisory; services.sh also checks the process itself
                    }
                }
                stopped.countDown();
            }
        }, "neo4j-launcher-shutdown"));

        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(Duration.ofMinutes(5).toMillis())) {
            System.err.println("[neo4j-launcher] default database did not become available");
            System.exit(1);
        }
        log("ready: bolt://" + host + ":" + port + " (auth disabled) after "
                + Duration.between(started, Instant.now()).toMillis() + " ms");

        stopped.await();
    }

    private static void log(String message) {
        System.out.println(Instant.now() + " [neo4j-launcher] " + message);
        System.out.flush();
    }
}
