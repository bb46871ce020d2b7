package io.factoryrunner.job;

import java.util.Map;

/** Puts into an item's map a value that JSON cannot hold, as a route's bean could by mistake. */
public class Unwritable {

    public void spoil(Map<String, Object> body) {
        body.put("handle", new Object());
    }
}
