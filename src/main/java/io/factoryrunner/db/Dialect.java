package io.factoryrunner.db;

import io.factoryrunner.logging.Secrets;

/** The databases the factory runs on. Every difference between them that the code must know is named here. */
public enum Dialect {
    H2("h2"),
    POSTGRESQL("postgresql");

    private final String vendor;

    Dialect(String vendor) {
        this.vendor = vendor;
    }

    /** The Flyway vendor folder name under {@code db/migration/}. */
    public String vendor() {
        return vendor;
    }

    public static Dialect fromUrl(String url) {
        if (url != null && url.startsWith("jdbc:h2:")) {
            return H2;
        }
        if (url != null && url.startsWith("jdbc:postgresql:")) {
            return POSTGRESQL;
        }
        throw new IllegalArgumentException("Unsupported database URL (expected jdbc:h2: or jdbc:postgresql:): "
                + Secrets.maskUrl(url));
    }
}
