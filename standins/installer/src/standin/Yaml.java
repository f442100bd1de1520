package standin;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * STAND-IN helper: reads the YAML subset Greengrass config files use (block mappings and sequences,
 * plain / single / double-quoted scalars, simple flow collections, | and > block scalars, comments)
 * and writes a config tree back as YAML. Anything outside the subset is a clear error, never a guess.
 */
final class Yaml {
    private static final class Line {
        final int indent;
        final String text;
        final int number;
        Line(int indent, String text, int number) { this.indent = indent; this.text = text; this.number = number; }
    }

    private final List<Line> lines = new ArrayList<>();
    private final List<String> raw = new ArrayList<>();
    private int pos;

    static Object parse(String text) {
        Yaml y = new Yaml();
        String[] rawLines = text.replace("\r\n", "\n").split("\n", -1);
        for (int n = 0; n < rawLines.length; n++) {
            String r = rawLines[n];
            y.raw.add(r);
            if (r.indexOf('\t') >= 0 && r.trim().length() > 0 && r.substring(0, r.length() - r.replaceAll("^\\s+", "").length()).indexOf('\t') >= 0) {
                throw new IllegalArgumentException("line " + (n + 1) + ": tabs are not allowed for indentation in YAML");
            }
            String t = r.trim();
            if (t.isEmpty() || t.startsWith("#") || t.equals("---") || t.equals("...") || t.startsWith("%")) continue;
            if (t.startsWith("--- ")) t = t.substring(4).trim();
            int ind = 0;
            while (ind < r.length() && r.charAt(ind) == ' ') ind++;
            y.lines.add(new Line(ind, stripComment(r.substring(ind)), n));
        }
        if (y.lines.isEmpty()) return null;
        Object v = y.block(y.lines.get(0).indent);
        if (y.pos < y.lines.size()) {
            Line l = y.lines.get(y.pos);
            throw new IllegalArgumentException("line " + (l.number + 1) + ": unexpected indentation");
        }
        return v;
    }

    /** Drops a trailing " # comment" that is outside quotes. */
    private static String stripComment(String s) {
        boolean sq = false, dq = false;
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c == '\\' && dq) { k++; continue; }
            if (c == '"' && !sq) dq = !dq;
            else if (c == '\'' && !dq) sq = !sq;
            else if (c == '#' && !sq && !dq && (k == 0 || s.charAt(k - 1) == ' ')) return s.substring(0, k).replaceAll("\\s+$", "");
        }
        return s.replaceAll("\\s+$", "");
    }

    private Object block(int indent) {
        Line l = lines.get(pos);
        if (l.text.equals("-") || l.text.startsWith("- ")) return sequence(indent);
        return mapping(indent);
    }

    private List<Object> sequence(int indent) {
        List<Object> out = new ArrayList<>();
        while (pos < lines.size()) {
            Line l = lines.get(pos);
            if (l.indent != indent || !(l.text.equals("-") || l.text.startsWith("- "))) break;
            String rest = l.text.equals("-") ? "" : l.text.substring(2).trim();
            if (rest.isEmpty()) {
                pos++;
                if (pos < lines.size() && lines.get(pos).indent > indent) out.add(block(lines.get(pos).indent));
                else out.add(null);
            } else if (isMappingEntry(rest)) {
                // "- key: value" starts a mapping whose entries sit at indent+2
                int inner = indent + 2 + (l.text.substring(2).length() - l.text.substring(2).replaceAll("^ +", "").length());
                lines.set(pos, new Line(inner, rest, l.number));
                out.add(mapping(inner));
            } else {
                pos++;
                out.add(scalar(rest, l));
            }
        }
        return out;
    }

    private static boolean isMappingEntry(String t) {
        if (t.startsWith("\"") || t.startsWith("'")) {
            char q = t.charAt(0);
            int end = t.indexOf(q, 1);
            while (end > 0 && q == '\'' && end + 1 < t.length() && t.charAt(end + 1) == '\'') end = t.indexOf(q, end + 2);
            return end > 0 && t.substring(end + 1).trim().startsWith(":");
        }
        if (t.startsWith("[") || t.startsWith("{")) return false;
        return t.contains(": ") || t.endsWith(":");
    }

    private Map<String, Object> mapping(int indent) {
        Map<String, Object> out = new LinkedHashMap<>();
        while (pos < lines.size()) {
            Line l = lines.get(pos);
            if (l.indent < indent) break;
            if (l.indent > indent) throw new IllegalArgumentException("line " + (l.number + 1) + ": unexpected indentation");
            if (l.text.startsWith("- ") || l.text.equals("-")) break;
            String t = l.text;
            String key;
            String rest;
            if (t.startsWith("\"") || t.startsWith("'")) {
                int[] end = new int[1];
                key = quoted(t, 0, end, l);
                String after = t.substring(end[0]).trim();
                if (!after.startsWith(":")) throw new IllegalArgumentException("line " + (l.number + 1) + ": expected ':' after key");
                rest = after.substring(1).trim();
            } else {
                int c = t.indexOf(": ");
                if (c < 0 && t.endsWith(":")) c = t.length() - 1;
                if (c < 0) throw new IllegalArgumentException("line " + (l.number + 1) + ": expected 'key: value', got " + Json.quote(t));
                key = t.substring(0, c).trim();
                rest = t.substring(c + 1).trim();
            }
            pos++;
            if (out.containsKey(key)) throw new IllegalArgumentException("line " + (l.number + 1) + ": duplicate key " + Json.quote(key));
            if (rest.isEmpty()) {
                if (pos < lines.size() && lines.get(pos).indent > indent) out.put(key, block(lines.get(pos).indent));
                else if (pos < lines.size() && lines.get(pos).indent == indent && (lines.get(pos).text.startsWith("- ") || lines.get(pos).text.equals("-"))) out.put(key, sequence(indent));
                else out.put(key, null);
            } else if (rest.matches("[|>][-+]?")) {
                out.put(key, blockScalar(rest, indent, l));
            } else {
                out.put(key, scalar(rest, l));
            }
        }
        return out;
    }

    private String blockScalar(String header, int indent, Line owner) {
        boolean folded = header.charAt(0) == '>';
        String chomp = header.length() > 1 ? header.substring(1) : "";
        // Block scalars use the raw lines (comments inside them are content).
        int start = owner.number + 1;
        List<String> body = new ArrayList<>();
        int contentIndent = -1;
        int n = start;
        for (; n < raw.size(); n++) {
            String r = raw.get(n);
            if (r.trim().isEmpty()) { body.add(""); continue; }
            int ind = 0;
            while (ind < r.length() && r.charAt(ind) == ' ') ind++;
            if (ind <= indent) break;
            if (contentIndent < 0) contentIndent = ind;
            if (ind < contentIndent) break;
            body.add(r.substring(contentIndent));
        }
        while (pos < lines.size() && lines.get(pos).number < n) pos++;
        while (!body.isEmpty() && body.get(body.size() - 1).isEmpty()) body.remove(body.size() - 1);
        String text = folded ? String.join(" ", body).replace("  ", "\n") : String.join("\n", body);
        if (chomp.equals("-")) return text;
        return text + "\n";
    }

    private static String quoted(String t, int from, int[] end, Line l) {
        char q = t.charAt(from);
        StringBuilder b = new StringBuilder();
        int k = from + 1;
        while (true) {
            if (k >= t.length()) throw new IllegalArgumentException("line " + (l.number + 1) + ": unterminated quoted string (multi-line strings are not supported)");
            char c = t.charAt(k);
            if (q == '\'' && c == '\'') {
                if (k + 1 < t.length() && t.charAt(k + 1) == '\'') { b.append('\''); k += 2; continue; }
                end[0] = k + 1;
                return b.toString();
            }
            if (q == '"' && c == '"') { end[0] = k + 1; return b.toString(); }
            if (q == '"' && c == '\\') {
                char e = t.charAt(k + 1);
                switch (e) {
                    case 'n': b.append('\n'); break;
                    case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break;
                    case '0': b.append('\0'); break;
                    case '"': b.append('"'); break;
                    case '\\': b.append('\\'); break;
                    case '/': b.append('/'); break;
                    case ' ': b.append(' '); break;
                    case 'x': b.append((char) Integer.parseInt(t.substring(k + 2, k + 4), 16)); k += 2; break;
                    case 'u': b.append((char) Integer.parseInt(t.substring(k + 2, k + 6), 16)); k += 4; break;
                    default: throw new IllegalArgumentException("line " + (l.number + 1) + ": unknown escape \\" + e);
                }
                k += 2;
                continue;
            }
            b.append(c);
            k++;
        }
    }

    private static Object scalar(String t, Line l) {
        if (t.startsWith("\"") || t.startsWith("'")) {
            int[] end = new int[1];
            String v = quoted(t, 0, end, l);
            if (!t.substring(end[0]).trim().isEmpty()) throw new IllegalArgumentException("line " + (l.number + 1) + ": text after a quoted string");
            return v;
        }
        if (t.startsWith("[")) {
            if (!t.endsWith("]")) throw new IllegalArgumentException("line " + (l.number + 1) + ": multi-line flow sequences are not supported");
            List<Object> out = new ArrayList<>();
            String inner = t.substring(1, t.length() - 1).trim();
            if (inner.isEmpty()) return out;
            for (String part : splitFlow(inner, l)) out.add(scalar(part.trim(), l));
            return out;
        }
        if (t.startsWith("{")) {
            if (!t.endsWith("}")) throw new IllegalArgumentException("line " + (l.number + 1) + ": multi-line flow mappings are not supported");
            Map<String, Object> out = new LinkedHashMap<>();
            String inner = t.substring(1, t.length() - 1).trim();
            if (inner.isEmpty()) return out;
            for (String part : splitFlow(inner, l)) {
                String p = part.trim();
                int c = p.indexOf(':');
                if (c < 0) throw new IllegalArgumentException("line " + (l.number + 1) + ": expected key: value in flow mapping");
                Object k = scalar(p.substring(0, c).trim(), l);
                out.put(String.valueOf(k), scalar(p.substring(c + 1).trim(), l));
            }
            return out;
        }
        if (t.startsWith("&") || t.startsWith("*") || t.startsWith("!")) {
            throw new IllegalArgumentException("line " + (l.number + 1) + ": anchors, aliases and tags are not supported");
        }
        return plain(t);
    }

    private static List<String> splitFlow(String s, Line l) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        boolean sq = false, dq = false;
        int start = 0;
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c == '\\' && dq) { k++; continue; }
            if (c == '"' && !sq) dq = !dq;
            else if (c == '\'' && !dq) sq = !sq;
            else if (!sq && !dq && (c == '[' || c == '{')) depth++;
            else if (!sq && !dq && (c == ']' || c == '}')) depth--;
            else if (!sq && !dq && depth == 0 && c == ',') { parts.add(s.substring(start, k)); start = k + 1; }
        }
        if (depth != 0 || sq || dq) throw new IllegalArgumentException("line " + (l.number + 1) + ": unbalanced flow collection");
        parts.add(s.substring(start));
        return parts;
    }

    /**
     * YAML 1.1 resolution of a plain (unquoted) scalar, as the nucleus's Jackson YAML parser types it (SnakeYAML's
     * resolver; docs/facts/installer-config.md): yes/no/on/off are booleans, `123_456`, `0x1F`, `0o17`-style octal
     * `017` and `0b101` are integers, `1e3` is a float. Quoted scalars never come here: they are strings.
     */
    static Object plain(String t) {
        if (t.isEmpty() || t.matches("~|null|Null|NULL")) return null;
        if (t.matches("yes|Yes|YES|true|True|TRUE|on|On|ON")) return Boolean.TRUE;
        if (t.matches("no|No|NO|false|False|FALSE|off|Off|OFF")) return Boolean.FALSE;
        if (t.matches("[-+]?(0b[0-1_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+)")) {
            boolean neg = t.startsWith("-");
            String body = t.replaceFirst("^[-+]", "").replace("_", "");
            int radix = 10;
            if (body.startsWith("0b")) { radix = 2; body = body.substring(2); }
            else if (body.startsWith("0x")) { radix = 16; body = body.substring(2); }
            else if (body.length() > 1 && body.startsWith("0")) { radix = 8; body = body.substring(1); }
            java.math.BigInteger n = new java.math.BigInteger(body.isEmpty() ? "0" : body, radix);
            if (neg) n = n.negate();
            return n.bitLength() < 64 ? (Object) n.longValue() : n;
        }
        if (t.matches("[-+]?(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?")) return Double.parseDouble(t.replace("_", ""));
        if (t.matches("[-+]?\\.(inf|Inf|INF)")) return t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        if (t.matches("\\.(nan|NaN|NAN)")) return Double.NaN;
        return t;
    }

    // ---- writer ----

    static String dump(Object v) {
        StringBuilder b = new StringBuilder("---\n");
        write(b, v, 0);
        return b.toString();
    }

    @SuppressWarnings("unchecked")
    private static void write(StringBuilder b, Object v, int indent) {
        String pad = " ".repeat(indent);
        if (v instanceof Map) {
            Map<String, Object> m = (Map<String, Object>) v;
            if (m.isEmpty()) { b.append(pad).append("{}\n"); return; }
            for (Map.Entry<String, Object> e : m.entrySet()) {
                b.append(pad).append(key(e.getKey())).append(':');
                Object c = e.getValue();
                if (c instanceof Map && !((Map<?, ?>) c).isEmpty() || c instanceof List && !((List<?>) c).isEmpty()) {
                    b.append('\n');
                    write(b, c, indent + 2);
                } else {
                    b.append(' ').append(inline(c)).append('\n');
                }
            }
        } else if (v instanceof List) {
            for (Object o : (List<Object>) v) {
                if (o instanceof Map && !((Map<?, ?>) o).isEmpty() || o instanceof List && !((List<?>) o).isEmpty()) {
                    b.append(pad).append("-\n");
                    write(b, o, indent + 2);
                } else b.append(pad).append("- ").append(inline(o)).append('\n');
            }
        } else {
            b.append(pad).append(inline(v)).append('\n');
        }
    }

    private static String key(String k) {
        return k.matches("[A-Za-z0-9_.\\-/]+") ? k : Json.quote(k);
    }

    private static String inline(Object v) {
        if (v == null) return "null";
        if (v instanceof Map) return "{}";
        if (v instanceof List) return "[]";
        if (v instanceof String) return Json.quote((String) v);
        return Json.write(v);
    }
}
