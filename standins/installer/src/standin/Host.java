package standin;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Shared-JVM host for the installer / nucleus STAND-IN (bench:fleet's default, `--standin-host shared`): one JVM serves
 * the installer invocations and the nucleus lifecycles of many device roots, so a thousand devices do not cost a
 * thousand JVM starts (plus one more per throttled attempt). The Installer and Nucleus code paths are the same as in
 * process mode; each invocation and each nucleus gets its own {@link Ctx} (streams, environment, -D options).
 * A nucleus is a thread here, not a process: "systemctl stop/start/restart" are the commands below.
 *
 * <pre>
 *   java -cp Greengrass.jar standin.Host --port-file F     (listens on 127.0.0.1, ephemeral port written to F;
 *                                                           exits when its stdin closes: its starter is gone)
 * </pre>
 *
 * Request: NUL-terminated fields. Reply: lines "1 text" (stdout), "2 text" (stderr), last "x CODE" (exit code).
 * <pre>
 *   install CWD NENV ENV.. NJVM JVMOPT.. JAR NARG ARG..   the installer (java JVMOPT.. -jar JAR ARG..) for that caller
 *   restart ROOT NENV ENV..    stop ROOT    status ROOT (x 0 active, x 3 inactive)    stats
 * </pre>
 * Closing the connection before "x" (the agent killed its installer on a timeout) interrupts the invocation.
 */
public final class Host {
    private static final long NUCLEUS_STACK = 512 * 1024;

    private static final class Running {
        final Nucleus nucleus;
        final Thread thread;
        final PrintStream out;

        Running(Nucleus nucleus, Thread thread, PrintStream out) {
            this.nucleus = nucleus;
            this.thread = thread;
            this.out = out;
        }
    }

    private final Map<Path, Running> nuclei = new ConcurrentHashMap<>();
    private final Map<Path, Object> locks = new ConcurrentHashMap<>();
    private final AtomicInteger installs = new AtomicInteger();
    private final AtomicInteger installsRunning = new AtomicInteger();
    private final AtomicInteger starts = new AtomicInteger();
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(null, r, "standin-host-conn", NUCLEUS_STACK);
        t.setDaemon(true);
        return t;
    });

    public static void main(String[] args) throws Exception {
        Path portFile = null;
        for (int k = 0; k < args.length; k++) {
            if (args[k].equals("--port-file") && k + 1 < args.length) portFile = Paths.get(args[++k]).toAbsolutePath();
            else {
                System.err.println("standin.Host (STAND-IN): usage: --port-file FILE");
                System.exit(2);
            }
        }
        Host host = new Host();
        ServerSocket server = new ServerSocket(0, 4096, InetAddress.getLoopbackAddress());
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.write(tmp, (server.getLocalPort() + "\n").getBytes(StandardCharsets.US_ASCII));
            Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        System.out.println("standin.Host: installer/nucleus STAND-IN host listening on 127.0.0.1:" + server.getLocalPort() + " (pid " + ProcessHandle.current().pid() + ")");
        System.out.flush();
        // Stdin closed: whoever started this host (a bench or a test) is gone; every nucleus thread goes with it.
        Thread watch = new Thread(() -> {
            try {
                while (System.in.read() != -1) { /* nothing to read */ }
            } catch (IOException ignored) { /* closed */ }
            System.out.println("standin.Host: stdin closed, exiting");
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }, "standin-host-stdin");
        watch.setDaemon(true);
        watch.start();
        while (true) {
            Socket s = server.accept();
            host.pool.execute(() -> host.serve(s));
        }
    }

    private Object lock(Path root) {
        return locks.computeIfAbsent(root, k -> new Object());
    }

    /** "systemctl stop" for one root: stops its nucleus thread (waits up to 10 s for it to end). */
    void stopNucleus(Path root) throws InterruptedException {
        synchronized (lock(root)) {
            Running r = nuclei.remove(root);
            if (r == null) return;
            boolean ended = r.nucleus.stop(10_000);
            if (!ended) System.err.println("standin.Host: the nucleus STAND-IN thread of " + root + " did not end within 10 s");
            r.out.flush();
            r.out.close();
        }
    }

    /** "systemctl start" for one root: a nucleus thread with its own context; a no-op while one is running. */
    void startNucleus(Path root, Map<String, String> env) throws IOException {
        synchronized (lock(root)) {
            Running old = nuclei.get(root);
            if (old != null && old.thread.isAlive() && !old.nucleus.stopped()) return;
            Files.createDirectories(root.resolve("logs"));
            // the unit's ExecStart: "exec loader >> logs/loader.log 2>&1"
            PrintStream out = new PrintStream(new FileOutputStream(root.resolve("logs").resolve("loader.log").toFile(), true), true, StandardCharsets.UTF_8);
            Ctx ctx = new Ctx(out, out, new HashMap<>(env), new HashMap<>(), List.of(), this, root);
            Nucleus n = new Nucleus(ctx, root);
            Thread t = new Thread(null, () -> {
                try {
                    n.run();
                } catch (Throwable e) {
                    if (!n.stopped()) {
                        out.println("Exception in thread \"main\" " + e);
                        e.printStackTrace(out);
                    }
                } finally {
                    out.flush();
                }
            }, "main", NUCLEUS_STACK);
            t.setDaemon(true);
            nuclei.put(root, new Running(n, t, out));
            starts.incrementAndGet();
            t.start();
        }
    }

    void restartNucleus(Path root, Map<String, String> env) throws Exception {
        synchronized (lock(root)) {
            stopNucleus(root);
            startNucleus(root, env);
        }
    }

    boolean active(Path root) {
        Running r = nuclei.get(root);
        return r != null && r.thread.isAlive() && !r.nucleus.stopped();
    }

    // ---- wire ----

    private static String field(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != 0) {
            if (c < 0) throw new IOException("request ended early");
            b.write(c);
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    private static int count(InputStream in) throws IOException {
        String f = field(in);
        try {
            int n = Integer.parseInt(f);
            if (n < 0 || n > 100_000) throw new NumberFormatException();
            return n;
        } catch (NumberFormatException e) {
            throw new IOException("bad count: " + f);
        }
    }

    private static Map<String, String> env(InputStream in) throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        for (int n = count(in); n > 0; n--) {
            String kv = field(in);
            int eq = kv.indexOf('=');
            if (eq > 0) env.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return env;
    }

    /** Output of one invocation as framed lines on the connection ("1 ..." or "2 ..."). */
    private static final class Framed extends OutputStream {
        private final OutputStream sink;
        private final byte tag;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        Framed(OutputStream sink, char tag) {
            this.sink = sink;
            this.tag = (byte) tag;
        }

        @Override
        public void write(int b) throws IOException {
            if (b == '\n') emit();
            else line.write(b);
        }

        private void emit() throws IOException {
            synchronized (sink) {
                sink.write(tag);
                sink.write(' ');
                line.writeTo(sink);
                sink.write('\n');
                sink.flush();
            }
            line.reset();
        }

        @Override
        public void close() throws IOException {
            if (line.size() > 0) emit();
        }
    }

    private static void reply(OutputStream out, String text) throws IOException {
        synchronized (out) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    private void serve(Socket s) {
        try (Socket sock = s) {
            sock.setTcpNoDelay(true);
            InputStream in = new BufferedInputStream(sock.getInputStream());
            OutputStream out = new BufferedOutputStream(sock.getOutputStream());
            String cmd = field(in);
            int code;
            switch (cmd) {
                case "install":
                    code = install(in, out);
                    break;
                case "restart": {
                    Path root = Paths.get(field(in)).toAbsolutePath().normalize();
                    restartNucleus(root, env(in));
                    code = 0;
                    break;
                }
                case "stop":
                    stopNucleus(Paths.get(field(in)).toAbsolutePath().normalize());
                    code = 0;
                    break;
                case "status": {
                    boolean a = active(Paths.get(field(in)).toAbsolutePath().normalize());
                    reply(out, "1 " + (a ? "active" : "inactive") + "\n");
                    code = a ? 0 : 3; // like systemctl is-active
                    break;
                }
                case "stats": {
                    int alive = 0;
                    for (Running r : nuclei.values()) if (r.thread.isAlive() && !r.nucleus.stopped()) alive++;
                    Runtime rt = Runtime.getRuntime();
                    reply(out, "1 nuclei=" + alive + " nucleusStarts=" + starts.get() + " installs=" + installs.get() + " installsRunning=" + installsRunning.get() + " threads=" + Thread.activeCount()
                        + " heapUsedMB=" + (rt.totalMemory() - rt.freeMemory()) / (1024 * 1024) + " heapMaxMB=" + rt.maxMemory() / (1024 * 1024) + "\n");
                    code = 0;
                    break;
                }
                default:
                    reply(out, "2 standin.Host: unknown command " + cmd + "\n");
                    code = 2;
            }
            reply(out, "x " + code + "\n");
        } catch (Exception e) {
            System.err.println("standin.Host: " + e);
        } finally {
            Thread.interrupted(); // a cancelled invocation's interrupt must not reach the next one on this pool thread
        }
    }

    private int install(InputStream in, OutputStream out) throws Exception {
        Path cwd = Paths.get(field(in)).toAbsolutePath();
        Map<String, String> env = env(in);
        List<String> jvm = new ArrayList<>();
        for (int n = count(in); n > 0; n--) jvm.add(field(in));
        String jar = field(in);
        String[] argv = new String[count(in)];
        for (int k = 0; k < argv.length; k++) argv[k] = field(in);
        installs.incrementAndGet();

        Map<String, String> props = new HashMap<>();
        for (String o : jvm) {
            if (o.startsWith("-D")) {
                int eq = o.indexOf('=');
                if (eq > 2) props.put(o.substring(2, eq), o.substring(eq + 1));
                else props.put(o.substring(2), "");
            }
        }
        PrintStream so = new PrintStream(new Framed(out, '1'), true, StandardCharsets.UTF_8);
        PrintStream se = new PrintStream(new Framed(out, '2'), true, StandardCharsets.UTF_8);
        if (!Files.isRegularFile(cwd.resolve(jar))) {
            se.println("Error: Unable to access jarfile " + jar);
            se.close();
            return 1;
        }
        Ctx ctx = new Ctx(so, se, env, props, jvm, this, cwd);
        // The agent kills its installer on a timeout: the client closes the connection, the invocation is interrupted.
        Thread worker = Thread.currentThread();
        AtomicBoolean over = new AtomicBoolean();
        pool.execute(() -> {
            try {
                while (in.read() != -1) { /* the client sends nothing more */ }
            } catch (IOException ignored) { /* closed */ }
            ctx.cancelled = true;
            synchronized (over) {
                if (!over.get()) worker.interrupt();
            }
        });
        installsRunning.incrementAndGet();
        try {
            return Installer.invoke(ctx, argv);
        } finally {
            installsRunning.decrementAndGet();
            synchronized (over) {
                over.set(true);
            }
            Thread.interrupted();
            so.close();
            se.close();
        }
    }
}
