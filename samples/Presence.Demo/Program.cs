// Fifteen minutes of presence between two servers on a virtual clock. example.org hosts alice, bob and dave;
// remote.example hosts carol. alice, bob and carol share the room !team; dave shares none with them.
// Every connected device syncs (heartbeats) every 20 s; each subscription is drained every virtual second.
using System.Globalization;
using Presence;
using Presence.Testing;

var clock = new ManualTimeProvider();
var start = clock.GetUtcNow();
var network = new InMemoryPresenceNetwork(clock);

var home = ServerName.Parse("example.org");
var remote = ServerName.Parse("remote.example");
var alice = UserId.Parse("@alice:example.org");
var bob = UserId.Parse("@bob:example.org");
var carol = UserId.Parse("@carol:remote.example");
var dave = UserId.Parse("@dave:example.org");

// One view of rooms for both servers: the room spans them.
var rooms = new InMemoryMembershipView();
var members = new[] { alice, bob, carol };
foreach (var member in members)
{
    rooms.Join("!team:example.org", member);
}

var engines = new Dictionary<ServerName, IPresenceEngine>();
foreach (var server in new[] { home, remote })
{
    var options = new PresenceOptions { ServerName = server, ClientBatchWindow = TimeSpan.FromSeconds(10) };
    options.Federation.BatchWindow = TimeSpan.FromSeconds(10);
    var engine = PresenceEngine.Create(options, rooms, timeProvider: clock, transport: network.CreateTransport(server));
    await engine.StartAsync();
    network.Attach(server, engine);
    engines[server] = engine;
}

foreach (var engine in engines.Values)
{
    foreach (var member in members)
    {
        await engine.MembershipChangedAsync(member);
    }
}

var subscriptions = new List<IPresenceSubscription>();
foreach (var user in new[] { alice, bob, dave, carol })
{
    subscriptions.Add(await engines[user.Server].SubscribeAsync(user));
}

var batchCounts = new int[subscriptions.Count];
var connected = new List<(UserId User, string Device)>();

Say("alice (laptop), bob (desktop) and dave (laptop) open their clients on example.org");
Connect(alice, "ALICE_LAPTOP");
Connect(bob, "BOB_DESKTOP");
Connect(dave, "DAVE_LAPTOP");

RunTo(0, 0, 30);
Say("bob sets a status message");
Engine(bob).SetPresence(bob, "BOB_DESKTOP", PresenceState.Online, "Writing the quarterly report");

RunTo(0, 1, 0);
Say("carol connects to remote.example from her phone");
Engine(carol).SetDeviceKind(carol, "CAROL_PHONE", DeviceKinds.Mobile);
Connect(carol, "CAROL_PHONE");

RunTo(0, 4, 0);
Say("bob sends a message");
Engine(bob).ReportActivity(bob, "BOB_DESKTOP");

RunTo(0, 5, 0);
Say("alice has not touched her laptop for 5 minutes (her client keeps syncing)");

RunTo(0, 5, 30);
Say("carol sends a message from her phone");
Engine(carol).ReportActivity(carol, "CAROL_PHONE");

RunTo(0, 7, 0);
Say("bob's client reports he has been idle for 3 minutes");
Engine(bob).ReportIdle(bob, "BOB_DESKTOP", TimeSpan.FromMinutes(3));

RunTo(0, 8, 0);
Say("alice sends a message");
Engine(alice).ReportActivity(alice, "ALICE_LAPTOP");

RunTo(0, 9, 0);
Say("carol's phone suspends the app: no more syncs");
connected.Remove((carol, "CAROL_PHONE"));

RunTo(0, 10, 30);
var refused = await Engine(dave).GetPresenceAsync(dave, alice);
Say($"dave asks for alice's presence: {(refused.IsAllowed ? Describe(refused.Presence) : "not allowed (no shared room)")}");
var allowed = await Engine(bob).GetPresenceAsync(bob, alice);
Say($"bob asks for alice's presence: {(allowed.IsAllowed ? Describe(allowed.Presence) : "not allowed")}");

Say("remote.example becomes unreachable: example.org's sends to it fail and are retried with backoff");
network.SetFailing(remote, true);
var sentBeforeOutage = network.SentBetween(home, remote).Messages;

RunTo(0, 11, 0);
Say("alice sets her status: \"In a meeting\"");
Engine(alice).SetPresence(alice, "ALICE_LAPTOP", PresenceState.Online, "In a meeting");

RunTo(0, 12, 0);
Say("alice changes her status: \"Back at 14:00\"");
Engine(alice).SetPresence(alice, "ALICE_LAPTOP", PresenceState.Online, "Back at 14:00");

RunTo(0, 12, 30);
var stale = await Engine(carol).GetPresenceAsync(carol, alice);
Say($"carol asks remote.example for alice's presence: {(stale.IsAllowed ? Describe(stale.Presence) : "not allowed")}");

RunTo(0, 13, 0);
Say($"remote.example is reachable again ({network.SentBetween(home, remote).Messages - sentBeforeOutage} sends to it failed meanwhile)");
network.SetFailing(remote, false);

RunTo(0, 14, 0);
Say("bob logs out");
connected.Remove((bob, "BOB_DESKTOP"));
Engine(bob).Disconnect(bob, "BOB_DESKTOP");

RunTo(0, 15, 0);
foreach (var (from, to) in new[] { (home, remote), (remote, home) })
{
    var (messages, entries) = network.SentBetween(from, to);
    Say($"{from} sent {to} {messages} messages with {entries} entries (failed attempts included)");
}

Say("batches delivered: " + string.Join(", ", subscriptions.Select((s, i) => $"{s.Viewer.Localpart} {batchCounts[i]}")));

foreach (var subscription in subscriptions)
{
    await subscription.DisposeAsync();
}

foreach (var engine in engines.Values)
{
    await engine.DisposeAsync();
}

IPresenceEngine Engine(UserId user) => engines[user.Server];

void Connect(UserId user, string device)
{
    connected.Add((user, device));
    Engine(user).Heartbeat(user, device);
}

// Moves the virtual clock one second at a time: devices sync every 20 s, and every subscription is drained each second.
void RunTo(int hours, int minutes, int seconds)
{
    var until = start + new TimeSpan(hours, minutes, seconds);
    while (clock.GetUtcNow() < until)
    {
        clock.Advance(TimeSpan.FromSeconds(1));
        if ((long)(clock.GetUtcNow() - start).TotalSeconds % 20 == 0)
        {
            foreach (var (user, device) in connected)
            {
                Engine(user).Heartbeat(user, device);
            }
        }

        for (var i = 0; i < subscriptions.Count; i++)
        {
            while (subscriptions[i].TryRead(out var batch))
            {
                batchCounts[i]++;
                foreach (var presence in batch)
                {
                    Console.WriteLine($"{Stamp()} {Label(subscriptions[i].Viewer)} sees: {Describe(presence)}");
                }
            }
        }
    }
}

void Say(string text) => Console.WriteLine($"{Stamp()} -- {text}");

string Stamp() => "[" + (clock.GetUtcNow() - start).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) + "]";

// carol is marked with her server, so it shows which lines crossed between servers.
string Label(UserId user) => user.Server == home ? user.Localpart : $"{user.Localpart}@{user.Server}";

string Describe(PresenceSnapshot presence)
{
    var text = Label(presence.User) + " " + (presence.IsUnknown ? "unknown" : PresenceStateNames.ToWireName(presence.State));
    if (presence.CurrentlyActive)
    {
        text += ", currently_active";
    }

    if ((presence.DeviceKinds & DeviceKinds.Mobile) != 0)
    {
        text += ", on mobile";
    }

    if (presence.StatusMessage is { } status)
    {
        text += $", \"{status}\"";
    }

    return text + (presence.GetLastActiveAgo(clock.GetUtcNow()) is { } ago ? $" (last active {FormatAgo(ago)} ago)" : string.Empty);
}

static string FormatAgo(TimeSpan ago) => ago.TotalMinutes >= 1
    ? $"{(int)ago.TotalMinutes}m{ago.Seconds}s"
    : $"{ago.Seconds}s";
