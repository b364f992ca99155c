using System.Text.Json;
using Microsoft.AspNetCore.Http;
using static Presence.AspNetCore.Tests.PresenceTestServer;

namespace Presence.AspNetCore.Tests;

[CancelAfter(10_000)]
public sealed class MatrixPresenceSyncTests
{
    private PresenceTestServer _server = null!;
    private MatrixPresenceSync _sync = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _server = await PresenceTestServer.StartAsync();
        _sync = new MatrixPresenceSync(_server.Engine, _server.Clock);
    }

    [TearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    private static HttpRequest Request(string query)
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString(query);
        return context.Request;
    }

    /// <summary>What a host's /sync writes: <c>{"next_batch": ..., "presence": {...}}</c>, parsed back.</summary>
    private JsonElement Write(PresenceChanges changes, string hostToken)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("next_batch", MatrixPresenceSync.CombineToken(hostToken, changes.NextToken));
            _sync.WritePresence(writer, changes);
            writer.WriteEndObject();
        }

        using var doc = JsonDocument.Parse(buffer.ToArray());
        return doc.RootElement.Clone();
    }

    private static List<(string? Sender, string? Presence)> Events(JsonElement response) =>
        [.. response.GetProperty("presence").GetProperty("events").EnumerateArray().Select(e => (e.GetProperty("sender").GetString(), e.GetProperty("content").GetProperty("presence").GetString()))];

    [Test]
    public async Task WritePresence_InitialSync_WritesTheVisiblePresenceAsMatrixEvents()
    {
        _server.Engine.SetPresence(Alice, "DEV", PresenceState.Online, "hi");

        var changes = await _sync.WaitForChangesAsync(Bob, PresenceStreamToken.None, Request("?timeout=0"));
        var response = Write(changes, "s1");

        Assert.That(Events(response), Does.Contain(("@alice:example.org", "online")));
        Assert.That(response.GetProperty("presence").GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()), Is.All.EqualTo("m.presence"));
        Assert.That(response.GetProperty("next_batch").GetString(), Does.StartWith("s1" + MatrixPresenceSync.TokenSeparator));
    }

    [Test]
    public async Task SplitToken_OfTheNextBatch_ResumesTheStream_AndAnOldTokenGetsTheSameChangesAgain()
    {
        _server.Engine.SetPresence(Alice, "DEV", PresenceState.Online, "first");
        var initial = Write(await _sync.WaitForChangesAsync(Bob, PresenceStreamToken.None, Request("?timeout=0")), "s1");
        var (host, token) = MatrixPresenceSync.SplitToken(initial.GetProperty("next_batch").GetString());

        _server.Engine.SetPresence(Alice, "DEV", PresenceState.Unavailable, "second");
        var next = Write(await _sync.WaitForChangesAsync(Bob, token, Request("?timeout=0")), "s2");
        var lostAndAskedAgain = Write(await _sync.WaitForChangesAsync(Bob, token, Request("?timeout=0")), "s2");
        var (_, after) = MatrixPresenceSync.SplitToken(next.GetProperty("next_batch").GetString());
        var nothingNew = await _sync.WaitForChangesAsync(Bob, after, Request("?timeout=0"));

        Assert.That(host, Is.EqualTo("s1"));
        Assert.That(Events(next), Is.EqualTo(new[] { ("@alice:example.org", "unavailable") }));
        Assert.That(Events(lostAndAskedAgain), Is.EqualTo(Events(next)), "a response lost in transit is sent again from the old token");
        Assert.That(nothingNew.Changes, Is.Empty);
    }

    [Test]
    public async Task WaitForChangesAsync_WithTimeout_WaitsOnTheEngineClockAndWakesOnAChange()
    {
        var initial = await _sync.WaitForChangesAsync(Bob, PresenceStreamToken.None, Request("?timeout=0"));
        var waiting = _sync.WaitForChangesAsync(Bob, initial.NextToken, Request("?timeout=30000")).AsTask();
        await Task.Yield();
        Assert.That(waiting.IsCompleted, Is.False, "a long-poll waits for a change");

        _server.Engine.SetPresence(Alice, "DEV", PresenceState.Online, "now");
        var woken = await waiting;

        Assert.That(woken.Changes.Select(c => c.User), Does.Contain(Alice));
    }

    [Test]
    public async Task WaitForChangesAsync_NothingChanges_AnswersEmptyWhenTheRequestTimeoutPassesOnTheEngineClock()
    {
        var initial = await _sync.WaitForChangesAsync(Bob, PresenceStreamToken.None, Request("?timeout=0"));
        var waiting = _sync.WaitForChangesAsync(Bob, initial.NextToken, Request("?timeout=30000")).AsTask();

        _server.Clock.Advance(TimeSpan.FromMilliseconds(29_999));
        bool waitedUntilTheEnd = !waiting.IsCompleted;
        _server.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var answer = await waiting;

        Assert.That(waitedUntilTheEnd, Is.True);
        Assert.That(answer.Changes, Is.Empty);
    }

    [Test]
    public async Task OpenSync_KeepsTheDeviceConnectedWhileOpen_WithSetPresence()
    {
        using (_sync.OpenSync(new MatrixClient(Alice, "PHONE"), Request("?set_presence=unavailable")))
        {
            _server.Clock.Advance(TimeSpan.FromMinutes(2)); // longer than the 30 s sync timeout
            var read = await _server.Engine.GetPresenceAsync(Alice, Alice);
            Assert.That(read.Presence.State, Is.EqualTo(PresenceState.Unavailable));
        }
    }

    [TestCase("?set_presence=online", PresenceState.Online)]
    [TestCase("?set_presence=unavailable", PresenceState.Unavailable)]
    [TestCase("?set_presence=offline", PresenceState.Offline)]
    [TestCase("", null)]
    public void ReadSetPresence_KnownValues_AreRead(string query, PresenceState? expected) =>
        Assert.That(MatrixPresenceSync.ReadSetPresence(Request(query)), Is.EqualTo(expected));

    [TestCase("?set_presence=busy")]
    [TestCase("?set_presence=org.matrix.msc3026.busy")]
    [TestCase("?set_presence=ONLINE")]
    public void ReadSetPresence_OtherValues_AreInvalidParam(string query)
    {
        var ex = Assert.Throws<PresenceException>(() => MatrixPresenceSync.ReadSetPresence(Request(query)));
        Assert.That(ex!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));
    }

    [TestCase("", 0)]
    [TestCase("?timeout=30000", 30_000)]
    [TestCase("?timeout=99999999999999999999999", 180_000)]
    public void ReadTimeout_IsTheQueryCutToTheMaximum(string query, int expectedMs) =>
        Assert.That(MatrixPresenceSync.ReadTimeout(Request(query)), Is.EqualTo(TimeSpan.FromMilliseconds(expectedMs)));

    [TestCase("?timeout=-1")]
    [TestCase("?timeout=soon")]
    public void ReadTimeout_NotANumber_IsInvalidParam(string query) =>
        Assert.That(() => MatrixPresenceSync.ReadTimeout(Request(query)), Throws.InstanceOf<PresenceException>().With.Property(nameof(PresenceException.ErrorCode)).EqualTo(PresenceErrorCodes.InvalidParam));

    [Test]
    public void SplitToken_ForeignOrMissingPresencePart_GivesASnapshotToken()
    {
        Assert.That(MatrixPresenceSync.SplitToken(null), Is.EqualTo((string.Empty, PresenceStreamToken.None)));
        Assert.That(MatrixPresenceSync.SplitToken("s42"), Is.EqualTo(("s42", PresenceStreamToken.None)));
        Assert.That(MatrixPresenceSync.SplitToken("s42~" + new string('x', 300)), Is.EqualTo(("s42", PresenceStreamToken.None)));
        Assert.That(() => MatrixPresenceSync.CombineToken("a~b", PresenceStreamToken.None), Throws.ArgumentException);
    }
}
