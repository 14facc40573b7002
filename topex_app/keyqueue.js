// One keydown listener on the page for the review queue (see keyqueue.py). Every key in
// data.keys is numbered and kept until Python acknowledges its number (data.acked); the
// keys not yet acknowledged go to Python as the state value "pending", again after every
// acknowledgement, so a key pressed while the queue redraws waits instead of vanishing.
export default function (component) {
    const { data, key, setStateValue } = component;
    const queues = (window.__topexKeyQueues = window.__topexKeyQueues || {});
    const queue = (queues[key] = queues[key] || { pending: [], next: data.acked + 1, sent: 0 });
    const advanced = queue.acked !== undefined && data.acked > queue.acked;
    queue.acked = data.acked;
    queue.allowed = data.keys;
    queue.pending = queue.pending.filter((item) => item.seq > data.acked);
    queue.send = () => {
        queue.sent += 1; // a new value each time, so that each send reruns
        setStateValue("pending", { keys: queue.pending, sent: queue.sent });
    };
    if (advanced && queue.pending.length) {
        queue.send();
    }
    if (!queue.listener) {
        queue.listener = (event) => {
            const target = event.target;
            const typing = target && (target.isContentEditable
                || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
            if (typing || event.repeat || event.ctrlKey || event.metaKey || event.altKey) {
                return;
            }
            const pressed = event.key.toLowerCase();
            if (!queue.allowed.includes(pressed)) {
                return;
            }
            queue.pending.push({ seq: queue.next, key: pressed });
            queue.next += 1;
            queue.send();
        };
        document.addEventListener("keydown", queue.listener, true);
    }
    return () => {
        document.removeEventListener("keydown", queue.listener, true);
        delete queues[key];
    };
}
