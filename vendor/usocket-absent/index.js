// dbus-next requires 'usocket' inside a try/catch and falls back to net.createConnection for a
// socket path when it throws; autoharden never connects to an abstract socket.
throw new Error('usocket is not installed: autoharden connects with Node\'s net module');
