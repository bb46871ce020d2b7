package io.factoryrunner.program;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/** The program jobs of this factory by name: the route and file that declare each, and its running consumer. */
public final class ProgramJobs {

    /** A program job as the route files declare it. */
    public record Declared(String job, String routeId, String file) {
    }

    private volatile Map<String, Declared> declared = Map.of();
    private final Map<String, ProgramConsumer> running = new ConcurrentHashMap<>();

    /** The program jobs the routes declare, one route each (checked before: a second route stops the start). */
    public void declare(Collection<Declared> jobs) {
        Map<String, Declared> byName = new TreeMap<>();
        jobs.forEach(d -> byName.put(d.job(), d));
        declared = Map.copyOf(byName);
    }

    public boolean isDeclared(String job) {
        return declared.containsKey(job);
    }

    /** The names among {@code jobs} that no route declares, in order, each once. */
    public List<String> unknown(Collection<String> jobs) {
        return jobs.stream().filter(j -> !declared.containsKey(j)).distinct().toList();
    }

    public List<String> names() {
        return List.copyOf(new TreeSet<>(declared.keySet()));
    }

    /** Every program job, by name: its route, its file, its description, and whether its route runs now. */
    public List<Map<String, Object>> library() {
        List<Map<String, Object>> answer = new ArrayList<>();
        for (Declared d : new TreeMap<>(declared).values()) {
            Map<String, Object> job = new LinkedHashMap<>();
            job.put("name", d.job());
            job.put("route", d.routeId());
            job.put("file", d.file());
            ProgramConsumer consumer = running.get(d.job());
            job.put("description", consumer == null ? null : consumer.getEndpoint().getDescription());
            job.put("running", consumer != null);
            answer.add(job);
        }
        return answer;
    }

    Optional<ProgramConsumer> consumer(String job) {
        return Optional.ofNullable(running.get(job));
    }

    void register(ProgramConsumer consumer) {
        running.put(consumer.getEndpoint().getJob(), consumer);
    }

    void unregister(ProgramConsumer consumer) {
        running.remove(consumer.getEndpoint().getJob(), consumer);
    }
}
