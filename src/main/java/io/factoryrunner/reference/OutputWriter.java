package io.factoryrunner.reference;

import io.factoryrunner.db.Jdbc;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.apache.camel.CamelContext;
import org.apache.camel.support.ResourceHelper;

/**
 * Replaces a data set's rows in the customer's output table: the configured delete ({@code output.sql.delete-file})
 * and the batch insert ({@code output.sql.insert-file}) in one transaction. camel-sql would run the two statements
 * in transactions of their own (it joins one only under Spring's transaction manager), so an insert failing on a
 * re-run would leave the data set's earlier rows deleted; here the earlier rows stay until the new ones are all in.
 * The statements keep camel-sql's {@code :#name} parameters, so the same files work with either.
 */
public final class OutputWriter {

    private static final Pattern PARAMETER = Pattern.compile(":#([A-Za-z0-9_]+)");

    private final CamelContext context;

    public OutputWriter(CamelContext context) {
        this.context = context;
    }

    /** A statement with its {@code :#name} parameters turned into {@code ?}, and their names in order. */
    record NamedSql(String sql, List<String> names) {

        static NamedSql parse(String text) {
            List<String> names = new ArrayList<>();
            Matcher m = PARAMETER.matcher(text.strip());
            StringBuilder sql = new StringBuilder();
            while (m.find()) {
                names.add(m.group(1));
                m.appendReplacement(sql, "?");
            }
            m.appendTail(sql);
            return new NamedSql(sql.toString(), names);
        }

        /** The values of the parameters, in their order. */
        Object[] args(Map<String, ?> values, String where) {
            Object[] args = new Object[names.size()];
            for (int i = 0; i < names.size(); i++) {
                if (!values.containsKey(names.get(i))) {
                    throw new IllegalArgumentException("parameter :#" + names.get(i) + " of " + where
                            + " has no value; values: " + values.keySet());
                }
                args[i] = values.get(names.get(i));
            }
            return args;
        }
    }

    /** Returns the rows written. */
    public int replace(List<Map<String, Object>> rows, String dataset) throws Exception {
        var properties = context.getPropertiesComponent();
        String deleteFile = properties.resolveProperty("output.sql.delete-file").orElseThrow().trim();
        String insertFile = properties.resolveProperty("output.sql.insert-file").orElseThrow().trim();
        String dataSourceName = properties.resolveProperty("output.datasource").orElse("dataSource").trim();
        DataSource dataSource = context.getRegistry().lookupByNameAndType(dataSourceName, DataSource.class);
        if (dataSource == null) {
            throw new IllegalStateException("output.datasource names no data source: '" + dataSourceName + "'");
        }
        NamedSql delete = NamedSql.parse(read(deleteFile));
        NamedSql insert = NamedSql.parse(read(insertFile));
        return Jdbc.of(dataSource).inTransaction(tx -> {
            tx.update(delete.sql(), delete.args(Map.of("dataset", dataset), deleteFile));
            List<Object[]> args = new ArrayList<>();
            for (Map<String, Object> row : rows) {
                args.add(insert.args(row, insertFile));
            }
            tx.batch(insert.sql(), args);
            return rows.size();
        });
    }

    private String read(String uri) throws Exception {
        try (InputStream in = ResourceHelper.resolveMandatoryResourceAsInputStream(context, uri)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
