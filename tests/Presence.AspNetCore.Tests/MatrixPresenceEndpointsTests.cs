using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using static Presence.AspNetCore.Tests.PresenceTestServer;

namespace Presence.AspNetCore.Tests;

[CancelAfter(10_000)]
public sealed class MatrixPresenceEndpointsTests
{
    private PresenceTestServer _server = null!;

    [SetUp]
    public async Task StartAsync() => _server = await PresenceTestServer.StartAsync();

    [TearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    private static string Code((HttpStatusCode Status, System.Text.Json.JsonElement Body) response) => response.Body.GetProperty("errcode").GetString()!;

    [Test]
    public async Task PutStatus_OwnPresence_IsSetAndReadBackByARoomMember()
    {
        var put = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"unavailable","status_msg":"lunch"}""");
        var get = await _server.SendAsync(HttpMethod.Get, StatusPath(Alice), "token-bob");

        Assert.That(put.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(get.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(get.Body.GetProperty("presence").GetString(), Is.EqualTo("unavailable"));
        Assert.That(get.Body.GetProperty("status_msg").GetString(), Is.EqualTo("lunch"));
    }

    [Test]
    public async Task ClientEndpoints_Refusals_AreMatrixErrors()
    {
        var missing = await _server.SendAsync(HttpMethod.Get, StatusPath(Alice), null);
        var unknownToken = await _server.SendAsync(HttpMethod.Get, StatusPath(Alice), "nonsense");
        var otherUser = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-bob", """{"presence":"online"}""");
        var badJson = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":""");
        var badState = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"dancing"}""");
        var neverSeen = await _server.SendAsync(HttpMethod.Get, StatusPath(Alice), "token-bob");
        var noSharedRoom = await _server.SendAsync(HttpMethod.Get, StatusPath(Alice), "token-carol");
        var badUser = await _server.SendAsync(HttpMethod.Get, "/_matrix/client/v3/presence/nobody/status", "token-alice");

        Assert.Multiple(() =>
        {
            Assert.That((missing.Status, Code(missing)), Is.EqualTo((HttpStatusCode.Unauthorized, "M_MISSING_TOKEN")));
            Assert.That((unknownToken.Status, Code(unknownToken)), Is.EqualTo((HttpStatusCode.Unauthorized, "M_UNKNOWN_TOKEN")));
            Assert.That((otherUser.Status, Code(otherUser)), Is.EqualTo((HttpStatusCode.Forbidden, "M_FORBIDDEN")));
            Assert.That((badJson.Status, Code(badJson)), Is.EqualTo((HttpStatusCode.BadRequest, "M_BAD_JSON")));
            Assert.That((badState.Status, Code(badState)), Is.EqualTo((HttpStatusCode.BadRequest, "M_INVALID_PARAM")));
            Assert.That((neverSeen.Status, Code(neverSeen)), Is.EqualTo((HttpStatusCode.NotFound, "M_NOT_FOUND")));
            Assert.That((noSharedRoom.Status, Code(noSharedRoom)), Is.EqualTo((HttpStatusCode.Forbidden, "M_FORBIDDEN")));
            Assert.That((badUser.Status, Code(badUser)), Is.EqualTo((HttpStatusCode.BadRequest, "M_INVALID_PARAM")));
        });
    }

    [Test]
    public async Task AccessToken_InQueryParameter_IsAccepted()
    {
        var put = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice) + "?access_token=token-alice", null, """{"presence":"online"}""");

        Assert.That(put.Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task LegacyR0Path_IsMapped()
    {
        var put = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice).Replace("/v3/", "/r0/", StringComparison.Ordinal), "token-alice", """{"presence":"online"}""");

        Assert.That(put.Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task UnknownEndpoint_Is404Unrecognized()
    {
        var response = await _server.SendAsync(HttpMethod.Get, "/_matrix/client/v3/pushrules/", "token-alice");

        Assert.That((response.Status, Code(response)), Is.EqualTo((HttpStatusCode.NotFound, "M_UNRECOGNIZED")));
    }

    [Test]
    public async Task PutStatus_PastTheLimit_Is429WithRetryAfterRoundedUp()
    {
        for (int i = 0; i < MatrixPresenceEndpointOptions.DefaultStatusWritesPerWindow; i++)
        {
            Assert.That((await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"online"}""")).Status, Is.EqualTo(HttpStatusCode.OK));
        }

        _server.Clock.Advance(TimeSpan.FromMilliseconds(2500) + TimeSpan.FromTicks(1)); // 7,499.9999 ms left
        var limited = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"online"}""");

        Assert.That((limited.Status, Code(limited)), Is.EqualTo((HttpStatusCode.TooManyRequests, "M_LIMIT_EXCEEDED")));
        Assert.That(limited.Body.GetProperty("retry_after_ms").GetInt64(), Is.EqualTo(7500), "rounded up: a client that waits this long is let in");
        _server.Clock.Advance(TimeSpan.FromMilliseconds(7500));
        Assert.That((await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"online"}""")).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task PutStatus_RefusedWrites_DoNotUseTheRateLimit()
    {
        for (int i = 0; i < 10; i++)
        {
            var refused = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"dancing"}""");
            Assert.That(refused.Status, Is.EqualTo(HttpStatusCode.BadRequest));
            var busyDisabled = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"org.matrix.msc3026.busy"}""");
            Assert.That(busyDisabled.Status, Is.EqualTo(HttpStatusCode.BadRequest), "the engine refuses busy when it is disabled");
        }

        for (int i = 0; i < MatrixPresenceEndpointOptions.DefaultStatusWritesPerWindow; i++)
        {
            Assert.That((await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"online"}""")).Status, Is.EqualTo(HttpStatusCode.OK));
        }
    }

    [Test]
    public async Task PutStatus_DeclaredBodyOverTheBound_Is413()
    {
        using var content = new ByteArrayContent(new byte[MatrixPresenceEndpointOptions.MaxClientBodyBytes + 1]);
        var response = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", content: content);

        Assert.That((response.Status, Code(response)), Is.EqualTo((HttpStatusCode.RequestEntityTooLarge, "M_TOO_LARGE")));
    }

    [Test]
    public async Task PutStatus_StreamedBodyOverTheBound_Is413AndIsNotReadWhole()
    {
        var source = new CountingStream(29L << 20); // 29 MiB, no Content-Length
        using var content = new StreamContent(source);
        var response = await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", content: content);

        Assert.That((response.Status, Code(response)), Is.EqualTo((HttpStatusCode.RequestEntityTooLarge, "M_TOO_LARGE")));
        Assert.That(source.BytesRead, Is.LessThan(4L << 20), "the server stopped reading soon after the 1 MiB bound");
    }

    [Test]
    public async Task Refusals_AreCountedByEndpointAndStatus()
    {
        using var refused = new MetricCollector<long>(_server.Services.GetRequiredService<IMeterFactory>(), MatrixPresenceEndpointMetrics.MeterName, MatrixPresenceEndpointMetrics.RequestsRefused);

        await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-bob", """{"presence":"online"}""");
        await _server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"online"}""");

        var measurement = refused.GetMeasurementSnapshot().Single();
        Assert.That(measurement.Tags["endpoint"], Is.EqualTo("status.put"));
        Assert.That(measurement.Tags["http.response.status_code"], Is.EqualTo(403));
    }
}
