// Fifteen minutes of presence on a virtual clock: alice, bob and carol share a room, dave shares none with them.
// Every connected device syncs (heartbeats) every 20 s; each subscription is drained every virtual second.
using System.Globalization;
using Presence;
using Presence.Testing;

var clock = new ManualTimeProvider();
var start = clock.GetUtcNow();

var alice = UserId.Parse("@alice:example.org");
var bob = UserId.Parse("@bob:example.org");
var carol = UserId.Parse("@carol:example.org");
var dave = UserId.Parse("@dave:example.org");

var rooms = new InMemoryMembershipView();
foreach (var member in new[] { alice, bob, carol })
{
    rooms.Join("!team:example.org", member);
}

var options = new PresenceOptions { ServerName = ServerName.Parse("example.org"), ClientBatchWindow = TimeSpan.FromSeconds(10) };
var engine = PresenceEngine.Create(options, rooms, timeProvider: clock);
await engine.StartAsync();

var subscriptions = new List<IPresenceSubscription>();
foreach (var user in new[] { alice, bob, carol, dave })
{
    subscriptions.Add(await engine.SubscribeAsync(user));
}

var batchCounts = new int[subscriptions.Count];
var connected = new List<(UserId User, string Device)>();

Say("alice (laptop), bob (desktop) and dave (laptop) open their clients");
Connect(alice, "ALICE_LAPTOP");
Connect(bob, "BOB_DESKTOP");
Connect(dave, "DAVE_LAPTOP");

RunTo(0, 0, 30);
Say("bob sets a status message");
engine.SetPresence(bob, "BOB_DESKTOP", PresenceState.Online, "Writing the quarterly report");

RunTo(0, 1, 0);
Say("carol connects from her phone");
Connect(carol, "CAROL_PHONE");
engine.SetDeviceKind(carol, "CAROL_PHONE", DeviceKinds.Mobile);

RunTo(0, 4, 0);
Say("bob sends a message");
engine.ReportActivity(bob, "BOB_DESKTOP");

RunTo(0, 5, 0);
Say("alice has not touched her laptop for 5 minutes (her client keeps syncing)");

RunTo(0, 5, 30);
Say("carol sends a message from her phone");
engine.ReportActivity(carol, "CAROL_PHONE");

RunTo(0, 7, 0);
Say("bob's client reports he has been idle for 3 minutes");
engine.ReportIdle(bob, "BOB_DESKTOP", TimeSpan.FromMinutes(3));

RunTo(0, 8, 0);
Say("alice sends a message");
engine.ReportActivity(alice, "ALICE_LAPTOP");

RunTo(0, 9, 0);
Say("carol's phone suspends the app: no more syncs");
connected.Remove((carol, "CAROL_PHONE"));

RunTo(0, 10, 30);
var refused = await engine.GetPresenceAsync(dave, alice);
Say($"dave asks for alice's presence: {(refused.IsAllowed ? Describe(refused.Presence) : "not allowed (no shared room)")}");
var allowed = await engine.GetPresenceAsync(bob, alice);
Say($"bob asks for alice's presence: {(allowed.IsAllowed ? Describe(allowed.Presence) : "not allowed")}");

RunTo(0, 14, 0);
Say("bob logs out");
connected.Remove((bob, "BOB_DESKTOP"));
engine.Disconnect(bob, "BOB_DESKTOP");

RunTo(0, 15, 0);
Say("batches delivered: " + string.Join(", ", subscriptions.Select((s, i) => $"{s.Viewer.Localpart} {batchCounts[i]}")));

foreach (var subscription in subscriptions)
{
    await subscription.DisposeAsync();
}

await engine.DisposeAsync();

void Connect(UserId user, string device)
{
    connected.Add((user, device));
    engine.Heartbeat(user, device);
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
                engine.Heartbeat(user, device);
            }
        }

        for (var i = 0; i < subscriptions.Count; i++)
        {
            while (subscriptions[i].TryRead(out var batch))
            {
                batchCounts[i]++;
                foreach (var presence in batch)
                {
                    Console.WriteLine($"{Stamp()} {subscriptions[i].Viewer.Localpart} sees: {Describe(presence)}");
                }
            }
        }
    }
}

void Say(string text) => Console.WriteLine($"{Stamp()} -- {text}");

string Stamp() => "[" + (clock.GetUtcNow() - start).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) + "]";

string Describe(PresenceSnapshot presence)
{
    var text = presence.User.Localpart + " " + (presence.IsUnknown ? "unknown" : PresenceStateNames.ToWireName(presence.State));
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
