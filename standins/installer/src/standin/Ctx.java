package standin;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Per-invocation context of the installer / nucleus STAND-IN: what a JVM-global would otherwise give
 * (System.out/err, the environment, -D system properties, the JVM's own options). In process mode
 * ({@link #process()}) it is the real JVM's; in the shared host mode (standin.Host) every installer
 * invocation and every nucleus gets its own, so nothing leaks between device roots in one JVM.
 */
final class Ctx {
    final PrintStream out;
    final PrintStream err;
    /** null: System.getenv. */
    private final Map<String, String> env;
    /** -D options of this invocation; null: System.getProperty. */
    private final Map<String, String> props;
    /** The JVM options of this invocation (launch.params). */
    final List<String> jvmArgs;
    /** The shared host running this invocation; null in process mode. */
    final Host host;
    /** Relative paths of this invocation resolve against its working directory (host mode: the client's). */
    private final Path cwd;
    /** Set when the client of a host-mode invocation went away (the agent killed its installer). */
    volatile boolean cancelled;

    Ctx(PrintStream out, PrintStream err, Map<String, String> env, Map<String, String> props, List<String> jvmArgs, Host host, Path cwd) {
        this.cwd = cwd;
        this.out = out;
        this.err = err;
        this.env = env;
        this.props = props;
        this.jvmArgs = Collections.unmodifiableList(new ArrayList<>(jvmArgs));
        this.host = host;
    }

    static Ctx process() {
        return new Ctx(System.out, System.err, null, null, ManagementFactory.getRuntimeMXBean().getInputArguments(), null, null);
    }

    /** A path argument of this invocation, made absolute against its working directory. */
    Path path(String p) {
        Path x = Paths.get(p);
        return cwd == null ? x.toAbsolutePath() : cwd.resolve(x);
    }

    /** An environment variable of this invocation, null when unset or empty. */
    String env(String name) {
        String v = env == null ? System.getenv(name) : env.get(name);
        return v == null || v.isEmpty() ? null : v;
    }

    /** A copy of this context's environment entries (host mode) for a nucleus it starts. */
    Map<String, String> envMap() {
        return env == null ? System.getenv() : env;
    }

    /**
     * A system property of this invocation: its own -D options first; user.home from its HOME in host mode;
     * JVM-wide facts (java.home, user.name) from the host JVM, which runs as the same user with the same java.
     */
    String prop(String name) {
        if (props == null) return System.getProperty(name);
        if (props.containsKey(name)) return props.get(name);
        if (name.equals("user.home") && env("HOME") != null) return env("HOME");
        if (name.equals("root")) return null; // never the host JVM's own -Droot
        return System.getProperty(name);
    }
}
