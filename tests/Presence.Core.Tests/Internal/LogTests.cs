using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class LogTests
{
    private const string Secret = "secret status text";
    private static readonly ServerName A = ServerName.Parse("a.example");
    private static readonly ServerName B = ServerName.Parse("b.example");
    private static readonly UserId Alice = UserId.Parse("@alice:a.example");
    private static readonly UserId Bob = UserId.Parse("@bob:b.example");
    private static readonly UserId Carol = UserId.Parse("@carol:c.example");
    private static readonly UserId Mallory = UserId.Parse("@mallory:evil.example");
    private static readonly UserId Zed = UserId.Parse("@zed:elsewhere.example");
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    [Test]
    public async Task RealisticSequence_LogsNoStatusTextOrUserIdAboveDebug()
    {
        using var logs = new FakeLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));

        await using (var net = await FederationHarness.StartAsync([A, B], o => o.MaxDevicesPerUser = 2, loggerFactory: loggerFactory))
        {
            await net.ShareRoomAsync(Alice, Bob);

            // Local users: statuses, activity, idle, a third device over the cap of two.
            net[A].SetPresence(Alice, "D1", PresenceState.Online, Secret);
            net[A].ReportActivity(Alice, "D1");
            net[A].Heartbeat(Alice, "D2");
            net[A].SetDeviceKind(Alice, "D2", DeviceKinds.Mobile);
            net[A].ReportIdle(Alice, "D2", TimeSpan.FromMinutes(5));
            net.Clock.Advance(TimeSpan.FromSeconds(1));
            net[A].Heartbeat(Alice, "D3");
            net[B].SetPresence(Bob, "D1", PresenceState.Unavailable, Secret + " of bob");

            // Inputs the engine rejects.
            Assert.That(Assert.Throws<PresenceException>(() => net[A].SetPresence(Mallory, "D1", PresenceState.Online, Secret))!.ErrorCode, Is.EqualTo(PresenceErrorCodes.Forbidden));
            Assert.That(Assert.Throws<PresenceException>(() => net[A].SetPresence(Alice, "D1", PresenceState.Online, Secret + new string('x', PresenceOptions.DefaultMaxStatusMessageLength)))!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));
            Assert.That(Assert.Throws<PresenceException>(() => net[A].ReportIdle(Alice, "D1", TimeSpan.FromSeconds(-1)))!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));

            // b is unreachable for a while: a's sends to it fail and are retried.
            net.Network.SetFailing(B, true);
            for (int i = 0; i < 3; i++)
            {
                net.Clock.Advance(Window);
            }

            net.Network.SetFailing(B, false);
            net.Clock.Advance(TimeSpan.FromMinutes(1));

            // b speaks for users it does not host, sends a state that does not exist, a status over the limit, and
            // asks for a user a does not host.
            await net[A].ReceiveAsync(B, new PresenceMessage(
                push:
                [
                    new PresenceSnapshot(Carol, PresenceState.Online, Secret, null, false, DeviceKinds.None),
                    new PresenceSnapshot(Alice, PresenceState.Online, Secret, null, false, DeviceKinds.None),
                    new PresenceSnapshot(Bob, PresenceState.Unknown, Secret, null, false, DeviceKinds.None),
                    new PresenceSnapshot(Bob, PresenceState.Online, Secret + new string('x', 5000), null, false, DeviceKinds.None),
                    new PresenceSnapshot(Bob, PresenceState.Online, Secret, null, false, DeviceKinds.None),
                ],
                poll: [Zed]));

            // The devices stop syncing: the sync timeouts take them offline.
            for (int i = 0; i < 6; i++)
            {
                net.Clock.Advance(Window);
            }

            Assert.That((await net.ReadAsync(A, Alice)).State, Is.EqualTo(PresenceState.Offline), "the sequence ran to its end");
        }

        var records = logs.Collector.GetSnapshot();
        string[] secrets = [Secret, Alice.Value, Bob.Value, Carol.Value, Mallory.Value, Zed.Value];
        var leaks = records
            .Where(static r => r.Level > LogLevel.Debug)
            .SelectMany(r => secrets.Where(secret => Text(r).Contains(secret, StringComparison.Ordinal)).Select(secret => $"{r.Level} {r.Id}: \"{secret}\" in {Text(r)}"))
            .ToList();
        Assert.Multiple(() =>
        {
            Assert.That(leaks, Is.Empty, "no record above Debug carries a status text or a user ID");

            // What the sequence must have logged, so the check above ran on something.
            Assert.That(records.Count(static r => r.Level == LogLevel.Information && r.Id.Id == 1), Is.EqualTo(2), "each engine logged its start");
            Assert.That(records.Count(static r => r.Level == LogLevel.Information && r.Id.Id == 9), Is.EqualTo(2), "each engine logged its stop");
            Assert.That(records.Where(static r => r.Level == LogLevel.Warning && r.Id.Id == 7).Select(static r => r.Message), Is.EqualTo(new[] { "A user reached the cap of 2 connected devices; the least recently seen device was dropped." }));
            Assert.That(records.Where(static r => r.Level == LogLevel.Warning && r.Id.Id == 12).Select(static r => r.Message), Has.Some.StartsWith("Sending presence to b.example failed (1 in a row)"));
            Assert.That(records.Where(static r => r.Level == LogLevel.Debug && r.Id.Id == 8).Select(static r => r.Message), Is.EquivalentTo(new[]
            {
                "Rejected presence input: a device signal for a user of another server.",
                "Rejected presence input: a status message over the length limit.",
                "Rejected presence input: an idle duration out of range.",
            }));
            Assert.That(records.Where(static r => r.Level == LogLevel.Debug && r.Id.Id == 14).Select(static r => r.Message), Has.Some.Contains("from b.example"));
        });
    }

    /// <summary>Everything a record carries as text: message, structured state, scopes and exception.</summary>
    private static string Text(FakeLogRecord record)
        => string.Join(
            "\n",
            [
                record.Message,
                .. record.StructuredState?.Select(static p => $"{p.Key}={p.Value}") ?? [],
                .. record.Scopes.Select(static s => s?.ToString() ?? string.Empty),
                record.Exception?.ToString() ?? string.Empty,
            ]);
}
