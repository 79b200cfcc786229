"""The recurrent LIF network: parameters, weights, the event-driven engine and Eventprop."""
