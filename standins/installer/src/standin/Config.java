package standin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * STAND-IN helper: the nucleus configuration tree. Keys are matched case-insensitively (like the real
 * Topics), every leaf carries a timestamp, and config/config.tlog is one JSON object per line:
 * {"TS":<ms>,"TP":["system","thingName"],"W":"changed","V":"<name>"}.
 * A value only replaces an existing one if its timestamp is not older (Topic.withNewerValue).
 */
final class Config {
    static final class Node {
        final String name;
        final Map<String, Node> children = new LinkedHashMap<>();
        Object value;
        long ts;
        boolean leaf;
        Node(String name) { this.name = name; }
    }

    final Node root = new Node("");

    static Config readTlog(Path tlog) throws IOException {
        Config c = new Config();
        if (!Files.exists(tlog)) return c;
        for (String line : Files.readAllLines(tlog, StandardCharsets.UTF_8)) {
            if (line.trim().isEmpty()) continue;
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) Json.parse(line);
                long ts = ((Number) m.get("TS")).longValue();
                @SuppressWarnings("unchecked")
                List<Object> tp = (List<Object>) m.get("TP");
                String[] path = new String[tp.size()];
                for (int k = 0; k < path.length; k++) path[k] = String.valueOf(tp.get(k));
                if ("removed".equals(m.get("W"))) c.remove(path);
                else c.setIfNewer(path, m.get("V"), ts);
            } catch (RuntimeException e) {
                // a torn or foreign line is skipped, like a tlog entry that fails to parse
            }
        }
        return c;
    }

    /** Sets a leaf if absent or if ts is not older than the existing one. Returns true if the value changed. */
    boolean setIfNewer(String[] path, Object value, long ts) {
        Node n = root;
        for (String p : path) {
            String k = p.toLowerCase(Locale.ROOT);
            Node ch = n.children.get(k);
            if (ch == null) {
                ch = new Node(p);
                n.children.put(k, ch);
            }
            n = ch;
        }
        if (!n.children.isEmpty()) return false; // a container cannot become a leaf
        boolean existed = n.leaf;
        if (existed && ts < n.ts) return false;
        boolean changed = !existed || !same(n.value, value);
        n.value = value;
        n.ts = ts;
        n.leaf = true;
        return changed;
    }

    private static boolean same(Object a, Object b) {
        if (a == null) return b == null;
        if (a instanceof Number && b instanceof Number) return ((Number) a).doubleValue() == ((Number) b).doubleValue();
        return a.equals(b);
    }

    void remove(String[] path) {
        Node n = root;
        for (int k = 0; k < path.length - 1; k++) {
            n = n.children.get(path[k].toLowerCase(Locale.ROOT));
            if (n == null) return;
        }
        n.children.remove(path[path.length - 1].toLowerCase(Locale.ROOT));
    }

    Node node(String... path) {
        Node n = root;
        for (String p : path) {
            n = n.children.get(p.toLowerCase(Locale.ROOT));
            if (n == null) return null;
        }
        return n;
    }

    Object get(String... path) {
        Node n = node(path);
        if (n == null) return null;
        return n.leaf ? n.value : toPlain(n);
    }

    String getString(String... path) {
        Object v = get(path);
        if (v == null || v instanceof Map || v instanceof List) return null;
        if (v instanceof Double && (Double) v == Math.rint((Double) v)) return Long.toString(((Double) v).longValue());
        return v.toString();
    }

    /**
     * Merge a parsed config document with timestamp ts (the real installer uses the init-config file's mtime).
     * Returns the tlog lines for the values that changed, in document order.
     */
    List<String> merge(Map<String, Object> doc, long ts) {
        List<String> out = new ArrayList<>();
        mergeInto(new ArrayList<>(), doc, ts, out);
        return out;
    }

    @SuppressWarnings("unchecked")
    private void mergeInto(List<String> prefix, Object v, long ts, List<String> out) {
        if (v instanceof Map && !((Map<String, Object>) v).isEmpty()) {
            for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                prefix.add(e.getKey());
                mergeInto(prefix, e.getValue(), ts, out);
                prefix.remove(prefix.size() - 1);
            }
            return;
        }
        if (v instanceof Map) v = new LinkedHashMap<String, Object>();
        String[] path = prefix.toArray(new String[0]);
        if (path.length == 0) return;
        if (setIfNewer(path, v, ts)) out.add(tlogLine(ts, path, v));
    }

    static String tlogLine(long ts, String[] path, Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("TS", ts);
        m.put("TP", new ArrayList<Object>(Arrays.asList((Object[]) path)));
        m.put("W", "changed");
        m.put("V", value);
        return Json.write(m);
    }

    static void appendTlog(Path tlog, List<String> lines) throws IOException {
        if (lines.isEmpty()) return;
        Files.createDirectories(tlog.getParent());
        StringBuilder b = new StringBuilder();
        for (String l : lines) b.append(l).append('\n');
        Files.write(tlog, b.toString().getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    /** Rewrites the tlog from the whole tree (used by -i/--config, which replaces the config). */
    void rewriteTlog(Path tlog) throws IOException {
        List<String> lines = new ArrayList<>();
        dumpLines(root, new ArrayList<>(), lines);
        Files.createDirectories(tlog.getParent());
        Files.deleteIfExists(tlog);
        appendTlog(tlog, lines);
    }

    private void dumpLines(Node n, List<String> prefix, List<String> out) {
        if (n.leaf) {
            out.add(tlogLine(n.ts, prefix.toArray(new String[0]), n.value));
            return;
        }
        for (Node c : n.children.values()) {
            prefix.add(c.name);
            dumpLines(c, prefix, out);
            prefix.remove(prefix.size() - 1);
        }
    }

    Map<String, Object> toMap() {
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) toPlain(root);
        return m;
    }

    private static Object toPlain(Node n) {
        if (n.leaf) return n.value;
        Map<String, Object> m = new LinkedHashMap<>();
        for (Node c : n.children.values()) m.put(c.name, toPlain(c));
        return m;
    }
}
