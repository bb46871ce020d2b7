package io.factoryrunner.intake;

import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.InvalidPayloadException;

/**
 * The rows of a CSV text (a dropped file, an answer), one at a time, each a map of the header line's column names to
 * the row's values: {@code split: method: {ref: csvRows, method: rows}, streaming: true} hands a route one row per
 * exchange without reading the whole file into memory. UTF-8; quoted values may hold commas, quotes and line ends.
 */
public final class CsvRows {

    private static final CsvMapper CSV = new CsvMapper();
    private static final CsvSchema WITH_HEADER = CsvSchema.emptySchema().withHeader();

    /** The rows of the message body; closed by the splitter when the last row is taken. */
    public Iterator<Map<String, String>> rows(Exchange exchange) throws IOException, InvalidPayloadException {
        InputStream in = exchange.getMessage().getMandatoryBody(InputStream.class);
        MappingIterator<Map<String, String>> rows = CSV.readerFor(Map.class).with(WITH_HEADER)
                .readValues(new InputStreamReader(in, StandardCharsets.UTF_8));
        return rows;
    }
}
