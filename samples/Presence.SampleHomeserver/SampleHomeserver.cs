using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Presence.Sample;

/// <summary>What one sample homeserver is.</summary>
public sealed class SampleHomeserverOptions
{
    /// <summary>Gets or sets the server's name.</summary>
    public required ServerName ServerName { get; init; }

    /// <summary>Gets or sets the loopback port; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Gets the addresses of the other servers (may be filled in after start).</summary>
    public ConcurrentDictionary<ServerName, Uri> Peers { get; init; } = new();

    /// <summary>Gets or sets the local users' localparts; each gets the access token <c>token-{localpart}</c> and device <c>DEV-{localpart}</c>.</summary>
    public IReadOnlyList<string> Users { get; init; } = [];

    /// <summary>Gets or sets who shares rooms with whom (share one instance between servers of one test or demo).</summary>
    public InMemoryMembershipView Rooms { get; init; } = new();

    /// <summary>Gets or sets the clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Gets or sets further engine options.</summary>
    public Action<PresenceOptions>? Configure { get; init; }

    /// <summary>Gets or sets how many status changes a user may make per <see cref="RateWindow"/> before 429.</summary>
    public int StatusWritesPerWindow { get; init; } = 5;

    /// <summary>Gets or sets the rate-limit window.</summary>
    public TimeSpan RateWindow { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// A small homeserver that embeds the presence engine: the client presence API, a long-polling /sync that carries
/// presence, the federation send endpoint, the presence-list API, and an HTTP transport to its peers. Not a real
/// homeserver: no rooms, no signing, tokens are <c>token-{localpart}</c>.
/// </summary>
public sealed class SampleHomeserver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SampleHomeserverOptions _options;
    private readonly Dictionary<string, (UserId User, string Device)> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(UserId, string), IPresenceSubscription> _feeds = new();
    private readonly ConcurrentDictionary<(string Origin, string TxnId), bool> _seenTransactions = new();
    private readonly ConcurrentQueue<(string, string)> _seenOrder = new();
    private readonly ConcurrentDictionary<UserId, Queue<DateTimeOffset>> _statusWrites = new();
    private readonly HttpClient _http;
    private int _transactions;
    private long _batch;
    private TaskCompletionSource _transactionArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SampleHomeserver(WebApplication app, SampleHomeserverOptions options, IPresenceEngine engine, HttpPresenceTransport transport, HttpClient http)
    {
        _http = http;
        _app = app;
        _options = options;
        Engine = engine;
        Transport = transport;
        foreach (var localpart in options.Users)
        {
            _tokens[TokenFor(localpart)] = (UserId.Create(localpart, options.ServerName), "DEV-" + localpart);
        }
    }

    /// <summary>Gets the server's name.</summary>
    public ServerName Name => _options.ServerName;

    /// <summary>Gets the server's base address.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Gets the engine.</summary>
    public IPresenceEngine Engine { get; }

    /// <summary>Gets the outbound transport (message and byte counts).</summary>
    public HttpPresenceTransport Transport { get; }

    /// <summary>Gets how many federation transactions were applied (replays not counted).</summary>
    public int TransactionsReceived => Volatile.Read(ref _transactions);

    /// <summary>The access token of a local user of the sample.</summary>
    /// <param name="localpart">The user's localpart.</param>
    /// <returns>The token.</returns>
    public static string TokenFor(string localpart) => "token-" + localpart;

    /// <summary>Starts a server on 127.0.0.1.</summary>
    /// <param name="options">What the server is.</param>
    /// <returns>The running server.</returns>
    public static async Task<SampleHomeserver> StartAsync(SampleHomeserverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{options.Port}");
        var app = builder.Build();
        var http = new HttpClient(); // owned by the server: disposed with it
        var transport = new HttpPresenceTransport(http, options.ServerName, server => options.Peers.TryGetValue(server, out var uri) ? uri : null, options.Time);
        var presenceOptions = new PresenceOptions { ServerName = options.ServerName };
        options.Configure?.Invoke(presenceOptions);
        var engine = PresenceEngine.Create(presenceOptions, options.Rooms, timeProvider: options.Time, transport: transport);
        await engine.StartAsync().ConfigureAwait(false);
        var server = new SampleHomeserver(app, options, engine, transport, http);
        server.Map(app);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return server;
    }

    /// <summary>Waits until the host is asked to stop (Ctrl+C, SIGTERM).</summary>
    /// <returns>A task that completes on shutdown.</returns>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    /// <summary>Tells the server where another server listens.</summary>
    /// <param name="server">The other server.</param>
    /// <param name="address">Its base address.</param>
    public void AddPeer(ServerName server, Uri address) => _options.Peers[server] = address;

    /// <summary>Waits until at least <paramref name="count"/> federation transactions were applied.</summary>
    /// <param name="count">How many in all.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>A task that completes when they have.</returns>
    public async Task WaitForTransactionsAsync(int count, CancellationToken cancellationToken)
    {
        while (TransactionsReceived < count)
        {
            await Volatile.Read(ref _transactionArrived).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        foreach (var feed in _feeds.Values)
        {
            await feed.DisposeAsync().ConfigureAwait(false);
        }

        await Engine.DisposeAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _http.Dispose();
    }

    private void Map(WebApplication app)
    {
        // v3 is today's path; r0 is what older clients (matrix-nio among them) still call.
        foreach (string version in new[] { "v3", "r0" })
        {
            app.MapGet($"/_matrix/client/{version}/presence/{{userId}}/status", GetStatusAsync);
            app.MapPut($"/_matrix/client/{version}/presence/{{userId}}/status", PutStatusAsync);
            app.MapGet($"/_matrix/client/{version}/sync", SyncAsync);
            app.MapGet($"/_matrix/client/{version}/presence/list/{{userId}}", GetListAsync);
            app.MapPost($"/_matrix/client/{version}/presence/list/{{userId}}", ChangeListAsync);
        }

        app.MapPut("/_matrix/federation/v1/send/{txnId}", ReceiveTransactionAsync);
        app.MapGet("/_matrix/client/unstable/io.presence_core/presence/requests", GetRequests);
        app.MapPost("/_matrix/client/unstable/io.presence_core/presence/requests/{observerId}", AnswerAsync);
        app.MapPost("/_matrix/client/unstable/io.presence_core/presence/list/polling", PollingAsync);
        app.MapGet("/_matrix/client/versions", () => Results.Text("""{"versions":["v1.11"]}""", "application/json"));
    }

    private static IResult Json(string json, int status = 200) => Results.Text(json, "application/json", statusCode: status);

    private static IResult Error(int status, string errcode, string message) => Json(MatrixPresenceCodec.WriteError(errcode, message), status);

    private static IResult Serialize<T>(T value, JsonTypeInfo<T> type) => Json(JsonSerializer.Serialize(value, type));

    private bool TryAuthenticate(HttpRequest request, out (UserId User, string Device) caller, out IResult? failure)
    {
        string? token = request.Headers.Authorization.ToString() is { Length: > 7 } header && header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? header[7..]
            : request.Query["access_token"].ToString();
        failure = null;
        if (string.IsNullOrEmpty(token))
        {
            caller = default;
            failure = Error(401, "M_MISSING_TOKEN", "An access token is required.");
            return false;
        }

        if (!_tokens.TryGetValue(token, out caller))
        {
            failure = Error(401, "M_UNKNOWN_TOKEN", "Unrecognised access token.");
            return false;
        }

        return true;
    }

    private async Task<IResult> GetStatusAsync(string userId, HttpRequest request)
    {
        if (!TryAuthenticate(request, out var caller, out var failure))
        {
            return failure!;
        }

        if (!UserId.TryParse(userId, out var target, out var error))
        {
            return Error(400, "M_INVALID_PARAM", error);
        }

        var read = await Engine.GetPresenceAsync(caller.User, target).ConfigureAwait(false);
        if (!read.IsAllowed)
        {
            return Error(403, "M_FORBIDDEN", "You are not allowed to see their presence.");
        }

        return read.Presence.IsUnknown
            ? Error(404, "M_NOT_FOUND", "No presence is known for this user.")
            : Json(MatrixPresenceCodec.WriteStatusResponse(read.Presence, _options.Time.GetUtcNow()));
    }

    private async Task<IResult> PutStatusAsync(string userId, HttpRequest request)
    {
        if (!TryAuthenticate(request, out var caller, out var failure))
        {
            return failure!;
        }

        if (!UserId.TryParse(userId, out var target, out var error))
        {
            return Error(400, "M_INVALID_PARAM", error);
        }

        if (target != caller.User)
        {
            return Error(403, "M_FORBIDDEN", "You cannot set the presence state of another user.");
        }

        if (!TryTakeStatusWrite(caller.User, out var retryAfter))
        {
            return Json(MatrixPresenceCodec.WriteRateLimited("Too many presence updates.", retryAfter), 429);
        }

        var body = await ReadBodyAsync(request).ConfigureAwait(false);
        try
        {
            var (state, status) = MatrixPresenceCodec.ReadStatusRequest(body);
            Engine.SetPresence(caller.User, caller.Device, state, status);
            return Json("{}");
        }
        catch (PresenceFormatException ex)
        {
            return Error(400, ex.InnerException is JsonException ? "M_BAD_JSON" : "M_INVALID_PARAM", ex.Message);
        }
        catch (PresenceException ex)
        {
            return Error(ex.HttpStatus, ex.ErrorCode, ex.Message);
        }
    }

    private bool TryTakeStatusWrite(UserId user, out TimeSpan retryAfter)
    {
        var now = _options.Time.GetUtcNow();
        var writes = _statusWrites.GetOrAdd(user, static _ => new Queue<DateTimeOffset>());
        lock (writes)
        {
            while (writes.Count > 0 && now - writes.Peek() >= _options.RateWindow)
            {
                writes.Dequeue();
            }

            if (writes.Count >= _options.StatusWritesPerWindow)
            {
                retryAfter = _options.RateWindow - (now - writes.Peek());
                return false;
            }

            writes.Enqueue(now);
            retryAfter = TimeSpan.Zero;
            return true;
        }
    }

    private async Task<IResult> SyncAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!TryAuthenticate(request, out var caller, out var failure))
        {
            return failure!;
        }

        PresenceState? setPresence = null;
        if (request.Query["set_presence"].ToString() is { Length: > 0 } requested)
        {
            if (!PresenceStateNames.TryParse(requested, out var state) || state == PresenceState.Busy)
            {
                return Error(400, "M_INVALID_PARAM", "set_presence must be online, unavailable or offline.");
            }

            setPresence = state;
        }

        _ = int.TryParse(request.Query["timeout"], out int timeoutMs);
        timeoutMs = Math.Clamp(timeoutMs, 0, 30_000);
        using var sync = Engine.OpenSync(caller.User, caller.Device, setPresence); // connected until the sync returns
        if (!_feeds.TryGetValue((caller.User, caller.Device), out var feed))
        {
            feed = await Engine.SubscribeAsync(caller.User, cancellationToken).ConfigureAwait(false);
            if (!_feeds.TryAdd((caller.User, caller.Device), feed))
            {
                await feed.DisposeAsync().ConfigureAwait(false); // another sync of the same device won the race
                feed = _feeds[(caller.User, caller.Device)];
            }
        }

        var response = new SyncResponseDto { NextBatch = Interlocked.Increment(ref _batch).ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (!feed.TryRead(out var batch) && timeoutMs > 0)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(timeoutMs);
            try
            {
                await feed.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // the long poll ended with nothing new
            }

            feed.TryRead(out batch);
        }

        var now = _options.Time.GetUtcNow();
        foreach (var presence in batch ?? [])
        {
            if (!presence.IsUnknown)
            {
                using var doc = JsonDocument.Parse(MatrixPresenceCodec.WriteClientEvent(presence, now));
                response.Presence.Events.Add(doc.RootElement.Clone());
            }
        }

        return Serialize(response, SampleJsonContext.Default.SyncResponseDto);
    }

    private async Task<IResult> ReceiveTransactionAsync(string txnId, HttpRequest request)
    {
        var body = await ReadBodyAsync(request).ConfigureAwait(false);
        ReceivedTransaction received;
        try
        {
            received = MatrixPresenceCodec.ReadTransaction(body, _options.Time.GetUtcNow());
        }
        catch (PresenceFormatException ex)
        {
            return Error(400, "M_BAD_JSON", ex.Message);
        }

        // Idempotent per origin and transaction ID: a replay is acknowledged and changes nothing.
        var key = (received.Origin.Value, txnId);
        if (_seenTransactions.TryAdd(key, true))
        {
            _seenOrder.Enqueue(key);
            while (_seenOrder.Count > 10_000 && _seenOrder.TryDequeue(out var old))
            {
                _seenTransactions.TryRemove(old, out _);
            }

            Engine.NoteTraffic(received.Origin);
            await Engine.ReceiveAsync(received.Origin, received.Message).ConfigureAwait(false);
            Interlocked.Increment(ref _transactions);
            Interlocked.Exchange(ref _transactionArrived, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        return Serialize(new FederationAckDto(), SampleJsonContext.Default.FederationAckDto);
    }

    private IResult GetListAsync(string userId, HttpRequest request)
    {
        if (!TryAuthenticate(request, out var caller, out var failure))
        {
            return failure!;
        }

        if (userId != caller.User.Value)
        {
            return Error(403, "M_FORBIDDEN", "You can only read your own presence list.");
        }

        var now = _options.Time.GetUtcNow();
        var entries = Engine.GetPresenceList(caller.User).Select(item =>
        {
            JsonElement? presence = null;
            if (!item.Presence.IsUnknown)
            {
                using var doc = JsonDocument.Parse(MatrixPresenceCodec.WriteClientEvent(item.Presence, now));
                presence = doc.RootElement.Clone();
            }

            return new ListEntryDto { ObserverUser = item.Entry.Observer.Value, ObservedUser = item.Entry.Observed.Value, State = item.Entry.State.ToString().ToLowerInvariant(), Presence = presence };
        }).ToList();
        return Serialize(entries, SampleJsonContext.Default.ListListEntryDto);
    }

    private async Task<IResult> ChangeListAsync(string userId, HttpRequest request)
    {
        if (!TryAuthenticate(request, out var caller, out var failure))
        {
            return failure!;
        }

        if (userId != caller.User.Value)
        {
            return Error(403, "M_FORBIDDEN", "You can only change your own presence list.");
        }

        var change = await ReadJsonAsync(request, SampleJsonContext.Default.ListChangeDto).ConfigureAwait(false);
        if (change is null)
        {
            return Error(400, "M_BAD_JSON", "The body must be {\"invite\": [...], \"drop\": [...]}.");
        }

        try
        {
            foreach (var target in change.Invite ?? [])
            {
                await Engine.AddToPresenceListAsync(caller.User, UserId.Parse(target)).ConfigureAwait(false);
            }

            foreach (var target in change.Drop ?? [])
            {
                await Engine.RemoveFromPresenceListAsync(caller.User, UserId.Parse(target)).ConfigureAwait(false);
            }
        }
        catch (PresenceException ex)
        {
            return Error(ex.HttpStatus, ex.ErrorCode, ex.Message);
        }
        catch (FormatException ex)
        {
            return Error(400, "M_INVALID_PARAM", ex.Message);
        }

        return Json("{}");
    }

    private IResult GetRequests(HttpRequest request)
    {
        if (!TryAuthenticate(request, out var caller, out var failure))
        {
            return failure!;
        }

        var requests = new RequestsDto
        {
            Requests = [.. Engine.GetPendingRequests(caller.User).Select(e => new ListEntryDto { ObserverUser = e.Observer.Value, ObservedUser = e.Observed.Value, State = "pending" })],
        };
        return Serialize(requests, SampleJsonContext.Default.RequestsDto);
    }

    private async Task<IResult> AnswerAsync(string observerId, HttpRequest request)
    {
        if (!TryAuthenticate(request, out var caller, out var failure))
        {
            return failure!;
        }

        var answer = await ReadJsonAsync(request, SampleJsonContext.Default.AnswerDto).ConfigureAwait(false);
        if (answer?.Allow is not { } allow || !UserId.TryParse(observerId, out var observer))
        {
            return Error(400, "M_INVALID_PARAM", "The body must be {\"allow\": true|false} and the path a user ID.");
        }

        try
        {
            await Engine.AnswerPresenceRequestAsync(caller.User, observer, allow).ConfigureAwait(false);
            return Json("{}");
        }
        catch (PresenceException ex)
        {
            return Error(ex.HttpStatus, ex.ErrorCode, ex.Message);
        }
    }

    private async Task<IResult> PollingAsync(HttpRequest request)
    {
        if (!TryAuthenticate(request, out var caller, out var failure))
        {
            return failure!;
        }

        var polling = await ReadJsonAsync(request, SampleJsonContext.Default.PollingDto).ConfigureAwait(false);
        if (polling?.Polling is not { } start)
        {
            return Error(400, "M_INVALID_PARAM", "The body must be {\"polling\": true|false}.");
        }

        if (start)
        {
            Engine.StartPolling(caller.User);
        }
        else
        {
            Engine.StopPolling(caller.User);
        }

        return Json("{}");
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static async Task<T?> ReadJsonAsync<T>(HttpRequest request, JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(await ReadBodyAsync(request).ConfigureAwait(false), type);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
