// Fifteen minutes of presence between two sample homeservers, over real HTTP on loopback, on a virtual clock.
// example.org hosts alice, bob and dave; remote.example hosts carol. alice, bob and carol share the room !team;
// dave shares none with them. Each server is the sample homeserver (ASP.NET Core embedding the engine); they
// federate with PUT /_matrix/federation/v1/send/{txnId}. The users act through the client API: PUT
// /_matrix/client/v3/presence/{userId}/status to set a status, GET /_matrix/client/v3/sync?timeout=0 every 20 s
// as the heartbeat and to read what they see, GET .../presence/{userId}/status to ask for someone's presence.
// What the sample homeserver has no endpoint for (a sent message, an idle report, the kind of device, a logout)
// goes to the engine directly. The clock is virtual, so a quarter hour plays in seconds; after every virtual step
// the demo waits, in real time, until the federation sends that step started have completed.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Presence;
using Presence.Sample;

long realStart = TimeProvider.System.GetTimestamp();
var manual = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
var clock = new SendTrackingClock(manual);
var start = clock.GetUtcNow();
using var outbound = new OutboundCounts();
using var http = new HttpClient();

var home = ServerName.Parse("example.org");
var remote = ServerName.Parse("remote.example");
var alice = UserId.Parse("@alice:example.org");
var bob = UserId.Parse("@bob:example.org");
var carol = UserId.Parse("@carol:remote.example");
var dave = UserId.Parse("@dave:example.org");

// One view of rooms for both servers: the room spans them.
var rooms = new InMemoryMembershipView();
var servers = new Dictionary<ServerName, SampleHomeserver>();
await using var homeServer = await StartServer(home, ["alice", "bob", "dave"]);
await using var remoteServer = await StartServer(remote, ["carol"]);
homeServer.AddPeer(remote, remoteServer.BaseAddress);
remoteServer.AddPeer(home, homeServer.BaseAddress);

var members = new[] { alice, bob, carol };
foreach (var member in members)
{
    rooms.Join("!team:example.org", member);
    foreach (var server in servers.Values)
    {
        await server.Engine.UserJoinedRoomAsync(member, "!team:example.org"); // the host tells the engine about each join
    }
}

await Settle();

var viewers = new[] { alice, bob, dave, carol };
var batchCounts = viewers.ToDictionary(user => user, _ => 0);
var eventCounts = viewers.ToDictionary(user => user, _ => 0);
var connected = new List<UserId>();
var nextBatch = new Dictionary<UserId, string>(); // each client's since token, as a real client keeps it
int? receivedBeforeRetry = null;

Say("alice (laptop), bob (desktop) and dave (laptop) open their clients on example.org");
await Open(alice);
await Open(bob);
await Open(dave);

await RunTo(0, 0, 30);
Say("bob sets a status message");
await SetStatus(bob, "online", "Writing the quarterly report");

await RunTo(0, 1, 0);
Say("carol connects to remote.example from her phone");
Engine(carol).SetDeviceKind(carol, Device(carol), DeviceKinds.Mobile); // no endpoint says what kind of device a client is: the engine directly
await Open(carol);

await RunTo(0, 4, 0);
Say("bob sends a message");
Engine(bob).ReportActivity(bob, Device(bob)); // the sample has no rooms or messages: the activity a sent message means goes to the engine directly
await Settle();

await RunTo(0, 5, 0);
Say("alice has not touched her laptop for 5 minutes (her client keeps syncing)");

await RunTo(0, 5, 30);
Say("carol sends a message from her phone");
Engine(carol).ReportActivity(carol, Device(carol)); // no message endpoint: the engine directly
await Settle();

await RunTo(0, 7, 0);
Say("bob's client reports he has been idle for 3 minutes");
Engine(bob).ReportIdle(bob, Device(bob), TimeSpan.FromMinutes(3)); // no idle-report endpoint: the engine directly
await Settle();

await RunTo(0, 8, 0);
Say("alice sends a message");
Engine(alice).ReportActivity(alice, Device(alice)); // no message endpoint: the engine directly
await Settle();

await RunTo(0, 9, 0);
Say("carol's phone suspends the app: no more syncs");
connected.Remove(carol);

await RunTo(0, 10, 30);
Say($"dave asks for alice's presence: {await Ask(dave, alice)}");
Say($"bob asks for alice's presence: {await Ask(bob, alice)}");

Say("remote.example becomes unreachable: example.org's sends to it fail and are retried with backoff");
homeServer.AddPeer(remote, new Uri("http://127.0.0.1:9/")); // nothing listens there: connection refused
long failedBeforeOutage = outbound.FailedBy(home);

await RunTo(0, 11, 0);
Say("alice sets her status: \"In a meeting\"");
await SetStatus(alice, "online", "In a meeting");

await RunTo(0, 12, 0);
Say("alice changes her status: \"Back at 14:00\"");
await SetStatus(alice, "online", "Back at 14:00");

await RunTo(0, 12, 30);
Say($"carol asks remote.example for alice's presence: {await Ask(carol, alice)}");

await RunTo(0, 13, 0);
Say($"remote.example is reachable again ({outbound.FailedBy(home) - failedBeforeOutage} sends to it failed meanwhile)");
homeServer.AddPeer(remote, remoteServer.BaseAddress);
receivedBeforeRetry = remoteServer.TransactionsReceived; // RunTo says when the next retry gets through

await RunTo(0, 13, 40);
Say("carol opens the app on her phone again; her client syncs until it has caught up");
await Open(carol);

await RunTo(0, 14, 0);
Say("bob logs out");
connected.Remove(bob);
Engine(bob).Disconnect(bob, Device(bob)); // the sample has no logout endpoint: the engine directly
await Settle();

await RunTo(0, 15, 0);
foreach (var (from, to) in new[] { (homeServer, remoteServer), (remoteServer, homeServer) })
{
    Say($"{from.Name} sent {to.Name} {from.Transport.Messages} federation transactions, {from.Transport.Bytes} bytes ({outbound.FailedBy(from.Name)} failed attempts not included)");
}

Say("delivered by /sync: " + string.Join(", ", viewers.Select(user => $"{user.Localpart} {batchCounts[user]} batches / {eventCounts[user]} events")));
Console.WriteLine($"(a quarter hour played in {TimeProvider.System.GetElapsedTime(realStart).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s of real time)");

async Task<SampleHomeserver> StartServer(ServerName name, string[] users)
{
    outbound.Starting = name; // the engine's meter is created inside StartAsync
    var server = await SampleHomeserver.StartAsync(new SampleHomeserverOptions
    {
        ServerName = name,
        Port = 0,
        Users = users,
        Rooms = rooms,
        Time = clock,
        Configure = options =>
        {
            options.ClientBatchWindow = TimeSpan.FromSeconds(10);
            options.Federation.BatchWindow = TimeSpan.FromSeconds(10);
        },
    });
    servers[name] = server;
    return server;
}

IPresenceEngine Engine(UserId user) => servers[user.Server].Engine;

static string Device(UserId user) => "DEV-" + user.Localpart; // the sample homeserver's one device per user

// A client opens: its first /sync says set_presence=online, and from now on it syncs every 20 s.
async Task Open(UserId user)
{
    connected.Add(user);
    await Sync(user, "online");
}

// Moves the virtual clock one second at a time: connected clients sync every 20 s.
async Task RunTo(int hours, int minutes, int seconds)
{
    var until = start + new TimeSpan(hours, minutes, seconds);
    while (clock.GetUtcNow() < until)
    {
        manual.Advance(TimeSpan.FromSeconds(1));
        await Settle();
        if (receivedBeforeRetry is { } before && remoteServer.TransactionsReceived > before)
        {
            int applied = remoteServer.TransactionsReceived - before;
            Say($"example.org's retry gets through: remote.example applies {applied} transaction{(applied == 1 ? string.Empty : "s")}");
            receivedBeforeRetry = null;
        }

        if ((long)(clock.GetUtcNow() - start).TotalSeconds % 20 == 0)
        {
            foreach (var user in connected.ToList())
            {
                await Sync(user);
            }
        }
    }
}

// GET /sync?timeout=0: a heartbeat, and what the user sees. A client whose sync returned something syncs again at
// once (a real one would be long-polling), so a batch that waited behind the one just read is not left for 20 s.
async Task Sync(UserId user, string? setPresence = null)
{
    while (true)
    {
        string query = setPresence is null ? "timeout=0" : $"timeout=0&set_presence={setPresence}";
        if (nextBatch.TryGetValue(user, out var since))
        {
            query += "&since=" + Uri.EscapeDataString(since);
        }

        var (status, body) = await Call(HttpMethod.Get, user, $"/_matrix/client/v3/sync?{query}");
        Check(status, body, "sync");
        nextBatch[user] = body.GetProperty("next_batch").GetString()!;
        await Settle();
        int count = 0;
        foreach (var presence in body.GetProperty("presence").GetProperty("events").EnumerateArray())
        {
            count++;
            Console.WriteLine($"{Stamp()} {Label(user)} sees: {Describe(UserId.Parse(presence.GetProperty("sender").GetString()!), presence.GetProperty("content"))}");
        }

        if (count == 0)
        {
            return;
        }

        batchCounts[user]++;
        eventCounts[user] += count;
        setPresence = null;
    }
}

// PUT /presence/{userId}/status.
async Task SetStatus(UserId user, string state, string? message)
{
    var json = new JsonObject { ["presence"] = state, ["status_msg"] = message }.ToJsonString();
    var (status, body) = await Call(HttpMethod.Put, user, StatusPath(user), json);
    Check(status, body, "status change");
    await Settle();
}

// GET /presence/{userId}/status.
async Task<string> Ask(UserId viewer, UserId target)
{
    var (status, body) = await Call(HttpMethod.Get, viewer, StatusPath(target));
    return status == HttpStatusCode.OK
        ? Describe(target, body)
        : $"refused, {(int)status} {body.GetProperty("errcode").GetString()}" + (status == HttpStatusCode.Forbidden ? " (no shared room)" : string.Empty);
}

static string StatusPath(UserId user) => $"/_matrix/client/v3/presence/{Uri.EscapeDataString(user.Value)}/status";

async Task<(HttpStatusCode Status, JsonElement Body)> Call(HttpMethod method, UserId user, string path, string? json = null)
{
    using var request = new HttpRequestMessage(method, new Uri(servers[user.Server].BaseAddress, path));
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SampleHomeserver.TokenFor(user.Localpart));
    if (json is not null)
    {
        request.Content = new StringContent(json, Encoding.UTF8, "application/json");
    }

    using var response = await http.SendAsync(request);
    string text = await response.Content.ReadAsStringAsync();
    using var document = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
    return (response.StatusCode, document.RootElement.Clone());
}

static void Check(HttpStatusCode status, JsonElement body, string what)
{
    if (status != HttpStatusCode.OK)
    {
        throw new InvalidOperationException($"The {what} failed: {(int)status} {body}");
    }
}

// Real HTTP, virtual clock: a send a timer started runs on its own while the clock stands still. Wait, in real
// time, until every send started has completed and its outcome is recorded (a retry scheduled, say), so the next
// virtual step sees it. Nothing in flight costs nothing.
async Task Settle()
{
    long began = TimeProvider.System.GetTimestamp();
    bool waited = false;
    while (true)
    {
        if (clock.SendsInFlight == 0 && outbound.Completed >= clock.SendsStarted)
        {
            if (!waited)
            {
                return;
            }

            waited = false; // something was in flight: let what follows its completion run, then look again
        }
        else
        {
            waited = true;
            if (TimeProvider.System.GetElapsedTime(began) > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"Federation did not settle: {clock.SendsInFlight} sends in flight, {outbound.Completed} of {clock.SendsStarted} completed.");
            }
        }

        await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
    }
}

void Say(string text) => Console.WriteLine($"{Stamp()} -- {text}");

string Stamp() => "[" + (clock.GetUtcNow() - start).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) + "]";

// carol is marked with her server, so it shows which lines crossed between servers.
string Label(UserId user) => user.Server == home ? user.Localpart : $"{user.Localpart}@{user.Server}";

// A presence event's content as the client API carries it (device kinds are not on the wire).
string Describe(UserId user, JsonElement content)
{
    var text = Label(user) + " " + content.GetProperty("presence").GetString();
    if (content.TryGetProperty("currently_active", out var active) && active.ValueKind == JsonValueKind.True)
    {
        text += ", currently_active";
    }

    if (content.TryGetProperty("status_msg", out var status) && status.ValueKind == JsonValueKind.String)
    {
        text += $", \"{status.GetString()}\"";
    }

    return text + (content.TryGetProperty("last_active_ago", out var ago) && ago.ValueKind == JsonValueKind.Number
        ? $" (last active {FormatAgo(TimeSpan.FromMilliseconds(ago.GetInt64()))} ago)"
        : string.Empty);
}

static string FormatAgo(TimeSpan ago) => ago.TotalMinutes >= 1
    ? $"{(int)ago.TotalMinutes}m{ago.Seconds}s"
    : $"{ago.Seconds}s";

/// <summary>
/// The fake clock, counting the timers created armed: the engine creates its own timers disarmed, so these are
/// the timeouts of federation sends in flight (<c>Task.WaitAsync(timeout, clock)</c>), disposed when a send completes.
/// </summary>
internal sealed class SendTrackingClock(FakeTimeProvider inner) : TimeProvider
{
    private int _inFlight;
    private long _started;

    public int SendsInFlight => Volatile.Read(ref _inFlight);

    public long SendsStarted => Interlocked.Read(ref _started);

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = inner.CreateTimer(callback, state, dueTime, period);
        if (dueTime == Timeout.InfiniteTimeSpan)
        {
            return timer;
        }

        Interlocked.Increment(ref _started);
        Interlocked.Increment(ref _inFlight);
        return new Tracked(this, timer);
    }

    private sealed class Tracked(SendTrackingClock owner, ITimer timer) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period) => timer.Change(dueTime, period);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                timer.Dispose();
                Interlocked.Decrement(ref owner._inFlight);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// Listens to the engines' outbound counters: sends completed (each message sent, each failed attempt) and failures
/// per server. Each engine has a meter of its own, created while its server starts.
/// </summary>
internal sealed class OutboundCounts : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<ServerName, Counts> _counts = new();
    private long _completed;

    public OutboundCounts()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == PresenceMetrics.MeterName && instrument.Name is PresenceMetrics.OutboundMessages or PresenceMetrics.OutboundFailures)
            {
                listener.EnableMeasurementEvents(instrument, _counts.GetOrAdd(Starting, static _ => new Counts()));
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, state) =>
        {
            if (instrument.Name == PresenceMetrics.OutboundFailures)
            {
                Interlocked.Add(ref ((Counts)state!).Failed, value);
            }

            Interlocked.Add(ref _completed, value);
        });
        _listener.Start();
    }

    /// <summary>Gets or sets the server whose engine is being created.</summary>
    public ServerName Starting { get; set; }

    /// <summary>Gets how many transport calls have completed and been recorded.</summary>
    public long Completed => Interlocked.Read(ref _completed);

    /// <summary>Gets how many sends of a server failed.</summary>
    /// <param name="server">The sending server.</param>
    /// <returns>The count.</returns>
    public long FailedBy(ServerName server) => _counts.TryGetValue(server, out var counts) ? Interlocked.Read(ref counts.Failed) : 0;

    public void Dispose() => _listener.Dispose();

    private sealed class Counts
    {
        public long Failed;
    }
}
