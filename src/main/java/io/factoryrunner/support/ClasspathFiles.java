package io.factoryrunner.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Enumeration;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Lists the files under a folder of the class path, in a directory or inside a jar. Camel and Flyway each have a
 * scanner of their own, but both need their framework started first, and this runs before either.
 */
public final class ClasspathFiles {

    private ClasspathFiles() {
    }

    /** Path under {@code root} to the file's text, for every file whose name passes {@code names}. */
    public static Map<String, String> read(ClassLoader classLoader, String root, Predicate<String> names) {
        Map<String, String> answer = new TreeMap<>();
        try {
            Enumeration<URL> roots = classLoader.getResources(root);
            while (roots.hasMoreElements()) {
                URL url = roots.nextElement();
                if ("file".equals(url.getProtocol())) {
                    Path dir = Path.of(url.toURI());
                    try (Stream<Path> paths = Files.walk(dir)) {
                        for (Path p : paths.filter(Files::isRegularFile).toList()) {
                            if (names.test(p.getFileName().toString())) {
                                String rel = dir.relativize(p).toString().replace('\\', '/');
                                answer.putIfAbsent(rel, Files.readString(p, StandardCharsets.UTF_8));
                            }
                        }
                    }
                } else if ("jar".equals(url.getProtocol())) {
                    JarURLConnection connection = (JarURLConnection) url.openConnection();
                    connection.setUseCaches(false);
                    try (JarFile jar = connection.getJarFile()) {
                        for (JarEntry entry : Collections.list(jar.entries())) {
                            String name = entry.getName();
                            String fileName = name.substring(name.lastIndexOf('/') + 1);
                            if (name.startsWith(root + "/") && !entry.isDirectory() && names.test(fileName)) {
                                try (InputStream in = jar.getInputStream(entry)) {
                                    answer.putIfAbsent(name.substring(root.length() + 1),
                                            new String(in.readAllBytes(), StandardCharsets.UTF_8));
                                }
                            }
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + root + " on the class path", e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException("Cannot list " + root + " on the class path", e);
        }
        return answer;
    }
}
