using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using NSubstitute;

namespace Presence.AspNetCore.Tests;

[CancelAfter(10_000)]
public sealed class FederationEndpointTests
{
    private static readonly ServerName Remote = ServerName.Parse("remote.example");
    private static readonly ServerName Other = ServerName.Parse("other.example");
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private IPresenceEngine _engine = null!;
    private PresenceTestServer _server = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _engine = Substitute.For<IPresenceEngine>();
        _server = await PresenceTestServer.StartAsync(engine: _engine);
    }

    [TearDown]
    public async Task StopAsync()
    {
        await _server.DisposeAsync();
        await _engine.DisposeAsync(); // the server disposed it already; a substitute does not mind twice
    }

    private static string Transaction(ServerName origin, string status) =>
        MatrixPresenceCodec.WriteTransaction(origin, Now, new PresenceMessage(push: [new PresenceSnapshot(UserId.Create("dave", origin), PresenceState.Online, status, Now, true, DeviceKinds.None)]));

    private Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body)> Send(string txnId, ServerName origin, string body) =>
        _server.SendAsync(HttpMethod.Put, "/_matrix/federation/v1/send/" + txnId, null, body, origin);

    [Test]
    public async Task Send_AuthenticTransaction_FeedsItsEdusToTheEngineAndNotesTraffic()
    {
        var response = await Send("t1", Remote, Transaction(Remote, "hello"));

        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Body.GetProperty("pdus").EnumerateObject(), Is.Empty);
        _engine.Received(1).NoteTraffic(Remote);
        await _engine.Received(1).ReceiveAsync(Remote, Arg.Is<PresenceMessage>(m => m.Push.Count == 1 && m.Push[0].StatusMessage == "hello"), Arg.Any<CancellationToken>());
        Assert.That(_server.Applied, Is.EqualTo(new[] { Remote }));
    }

    [Test]
    public async Task Send_ReplayedTransactionId_IsAcknowledgedAndNotAppliedAgain_PerOrigin()
    {
        using var replays = new MetricCollector<long>(_server.Services.GetRequiredService<IMeterFactory>(), MatrixPresenceEndpointMetrics.MeterName, MatrixPresenceEndpointMetrics.TransactionReplays);
        await Send("t1", Remote, Transaction(Remote, "v1"));
        var replay = await Send("t1", Remote, Transaction(Remote, "v1"));
        var sameIdOtherOrigin = await Send("t1", Other, Transaction(Other, "v1"));

        Assert.That(replay.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(sameIdOtherOrigin.Status, Is.EqualTo(HttpStatusCode.OK));
        await _engine.Received(1).ReceiveAsync(Remote, Arg.Any<PresenceMessage>(), Arg.Any<CancellationToken>());
        await _engine.Received(1).ReceiveAsync(Other, Arg.Any<PresenceMessage>(), Arg.Any<CancellationToken>());
        _engine.Received(2).NoteTraffic(Remote); // a replay still proves the peer is alive
        Assert.That(replays.GetMeasurementSnapshot().EvaluateAsCounter(), Is.EqualTo(1));
    }

    [Test]
    public async Task Send_FloodFromAnotherOrigin_DoesNotLetAnOldTransactionApplyTwice()
    {
        await Send("first", Remote, Transaction(Remote, "v1"));
        string longId = new('x', MatrixPresenceEndpointOptions.MaxTransactionIdBytes - 8);
        for (int i = 0; i < 400; i++)
        {
            await Send(longId + i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture), Other, Transaction(Other, "flood"));
        }

        await Send("first", Remote, Transaction(Remote, "v1"));

        await _engine.Received(1).ReceiveAsync(Remote, Arg.Any<PresenceMessage>(), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task Send_Refusals_AreMatrixErrorsAndApplyNothing()
    {
        var unsigned = await _server.SendAsync(HttpMethod.Put, "/_matrix/federation/v1/send/t1", null, Transaction(Remote, "x"));
        var spoofed = await Send("t2", Other, Transaction(Remote, "x"));
        var malformed = await Send("t3", Remote, "{\"origin\":");
        var longId = await Send(new string('x', MatrixPresenceEndpointOptions.MaxTransactionIdBytes + 1), Remote, Transaction(Remote, "x"));

        Assert.Multiple(() =>
        {
            Assert.That((unsigned.Status, unsigned.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.Unauthorized, "M_UNAUTHORIZED")));
            Assert.That((spoofed.Status, spoofed.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.Forbidden, "M_FORBIDDEN")), "a server speaks only for itself");
            Assert.That((malformed.Status, malformed.Body.GetProperty("errcode").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "M_BAD_JSON")));
            Assert.That(longId.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        });
        await _engine.DidNotReceiveWithAnyArgs().ReceiveAsync(default, null!, default);
    }

    [Test]
    public async Task Send_EngineFailure_LetsTheRetryApply()
    {
        _engine.ReceiveAsync(Remote, Arg.Any<PresenceMessage>(), Arg.Any<CancellationToken>())
            .Returns(_ => throw new PresenceException(PresenceErrorCodes.Unknown, "shutting down"), _ => ValueTask.CompletedTask);

        var failed = await Send("t1", Remote, Transaction(Remote, "v1"));
        var retried = await Send("t1", Remote, Transaction(Remote, "v1"));

        Assert.That(failed.Status, Is.EqualTo(HttpStatusCode.InternalServerError));
        Assert.That(retried.Status, Is.EqualTo(HttpStatusCode.OK));
        await _engine.Received(2).ReceiveAsync(Remote, Arg.Any<PresenceMessage>(), Arg.Any<CancellationToken>());
        Assert.That(_server.Applied, Is.EqualTo(new[] { Remote }));
    }
}
