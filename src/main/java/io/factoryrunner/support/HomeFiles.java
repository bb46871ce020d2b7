package io.factoryrunner.support;

import java.io.File;
import java.nio.file.Path;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.component.file.FileComponent;
import org.apache.camel.component.file.GenericFileEndpoint;
import org.apache.camel.impl.engine.DefaultResourceLoader;
import org.apache.camel.impl.engine.DefaultResourceResolvers.FileResolver;
import org.apache.camel.spi.Resource;
import org.apache.camel.support.ResourceResolverSupport;

/**
 * A relative path in a {@code file:} URI is taken from the factory's home ({@code --home}), not from the directory the
 * process was started in: {@code file:config/sql/source.sql} as a resource (camel-sql query files, the output SQL
 * files) and {@code file:data/drop} as an endpoint (the drop folder) both mean the ones under the home.
 */
public final class HomeFiles {

    private final Path home;

    public HomeFiles(Path home) {
        this.home = home.toAbsolutePath().normalize();
    }

    /** Installs the home's file resources and file endpoints on a context that has not created its routes yet. */
    public void install(CamelContext context) {
        Resolver resolver = new Resolver();
        resolver.setCamelContext(context);
        context.getRegistry().bind(DefaultResourceLoader.RESOURCE_LOADER_KEY_PREFIX + "file", resolver);
        context.addComponent("file", new Component());
    }

    /** The path a {@code file:} URI names, as Camel reads it ({@code file://x} is x), from the home if relative. */
    public Path pathOf(String path) {
        return home.resolve(path.startsWith("//") ? path.substring(2) : path);
    }

    /** Camel's file resources, with a relative path taken from the home. */
    private final class Resolver extends ResourceResolverSupport {

        private final FileResolver files = new FileResolver();

        Resolver() {
            super("file");
        }

        @Override
        protected Resource createResource(String location, String remaining) {
            return files.resolve("file:" + pathOf(remaining));
        }
    }

    /** Camel's file component, with a relative directory taken from the home. */
    private final class Component extends FileComponent {

        @Override
        protected GenericFileEndpoint<File> buildFileEndpoint(String uri, String remaining,
                Map<String, Object> parameters) throws Exception {
            return super.buildFileEndpoint(uri, pathOf(remaining).toString(), parameters);
        }
    }
}
