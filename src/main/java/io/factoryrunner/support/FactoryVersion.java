package io.factoryrunner.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The version of the factory this process runs, as the build wrote it into the jar. */
public final class FactoryVersion {

    private static final String RESOURCE = "META-INF/factory-runner/version.properties";

    private FactoryVersion() {
    }

    /** The version, such as {@code 0.1.0}; {@code unknown} when the classes were not built by Maven. */
    public static String get() {
        try (InputStream in = FactoryVersion.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                return "unknown";
            }
            Properties p = new Properties();
            p.load(in);
            String version = p.getProperty("version", "unknown").trim();
            return version.startsWith("${") ? "unknown" : version;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
