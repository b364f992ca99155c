using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Presence.Internal;

/// <summary>The handlers <c>MapMatrixPresence</c> maps. Every presence decision is the engine's; this only translates HTTP.</summary>
internal sealed class PresenceEndpoints(IPresenceEngine engine, IMatrixAuthenticator authenticator, MatrixPresenceEndpointOptions options, TimeProvider time, ILogger logger, EndpointInstruments instruments)
{
    private const string EmptyObject = "{}";
    private const string FederationAck = """{"pdus":{}}""";

    private readonly StatusWriteLimiter _limiter = new(options.StatusWritesPerWindow, options.StatusWriteWindow, time);
    private readonly TransactionReplayCache _replays = new(options.ReplayCacheBytesPerOrigin, options.ReplayCacheMaxBytes);

    /// <summary>Runs a handler, counts a refusal, and writes the result.</summary>
    public async Task RunAsync(HttpContext context, string endpoint, Task<IResult> handler)
    {
        var result = await handler.ConfigureAwait(false);
        if (result is IStatusCodeHttpResult { StatusCode: >= 400 and var status })
        {
            instruments.Refused.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("http.response.status_code", status));
        }

        await result.ExecuteAsync(context).ConfigureAwait(false);
    }

    public async Task<IResult> GetStatusAsync(HttpContext context, string userId)
    {
        var (client, failure) = await AuthenticateAsync(context).ConfigureAwait(false);
        if (client is null)
        {
            return failure!;
        }

        try
        {
            var target = ParseUser(userId);
            var read = await engine.GetPresenceAsync(client.User, target, context.RequestAborted).ConfigureAwait(false);
            if (!read.IsAllowed)
            {
                return MatrixResults.Error(StatusCodes.Status403Forbidden, PresenceErrorCodes.Forbidden, "You are not allowed to see their presence.");
            }

            return read.Presence.IsUnknown
                ? MatrixResults.Error(StatusCodes.Status404NotFound, PresenceErrorCodes.NotFound, "No presence is known for this user.")
                : Json(MatrixPresenceCodec.WriteStatusResponse(read.Presence, time.GetUtcNow()));
        }
        catch (Exception ex) when (Refusal(ex) is { } refusal)
        {
            return refusal;
        }
    }

    public async Task<IResult> PutStatusAsync(HttpContext context, string userId)
    {
        var (client, failure) = await AuthenticateAsync(context).ConfigureAwait(false);
        if (client is null)
        {
            return failure!;
        }

        try
        {
            var target = ParseUser(userId);
            if (target != client.User)
            {
                return MatrixResults.Error(StatusCodes.Status403Forbidden, PresenceErrorCodes.Forbidden, "You cannot set the presence state of another user.");
            }

            var body = await MatrixRequestBody.TryReadAsync(context.Request, MatrixPresenceEndpointOptions.MaxClientBodyBytes, context.RequestAborted).ConfigureAwait(false);
            if (body is null)
            {
                Log.BodyTooLarge(logger, MatrixPresenceEndpointOptions.MaxClientBodyBytes);
                return MatrixResults.BodyTooLarge(MatrixPresenceEndpointOptions.MaxClientBodyBytes);
            }

            var (state, statusMessage) = MatrixPresenceCodec.ReadStatusRequest(body);
            if (!_limiter.TryAcquire(client.User, out var retryAfter))
            {
                return MatrixResults.RateLimited(retryAfter, "Too many presence updates.");
            }

            try
            {
                engine.SetPresence(client.User, client.DeviceId, state, statusMessage);
            }
            catch
            {
                _limiter.Refund(client.User); // only accepted writes count
                throw;
            }

            return Json(EmptyObject);
        }
        catch (Exception ex) when (Refusal(ex) is { } refusal)
        {
            return refusal;
        }
    }

    public async Task<IResult> ReceiveTransactionAsync(HttpContext context, string txnId)
    {
        if (Encoding.UTF8.GetByteCount(txnId) > MatrixPresenceEndpointOptions.MaxTransactionIdBytes)
        {
            Log.TransactionRefused(logger, "transaction ID too long");
            return MatrixResults.Error(StatusCodes.Status400BadRequest, PresenceErrorCodes.InvalidParam, $"The transaction ID is over {MatrixPresenceEndpointOptions.MaxTransactionIdBytes} bytes.");
        }

        var body = await MatrixRequestBody.TryReadAsync(context.Request, MatrixPresenceEndpointOptions.MaxFederationBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            Log.TransactionRefused(logger, "body too large");
            return MatrixResults.BodyTooLarge(MatrixPresenceEndpointOptions.MaxFederationBodyBytes);
        }

        if (await authenticator.AuthenticateServerAsync(context, body, context.RequestAborted).ConfigureAwait(false) is not { } origin)
        {
            Log.TransactionRefused(logger, "not authenticated");
            return MatrixResults.Error(StatusCodes.Status401Unauthorized, "M_UNAUTHORIZED", "The request is not signed by a known server.");
        }

        engine.NoteTraffic(origin); // any authentic request proves the peer is alive
        ReceivedTransaction received;
        try
        {
            received = MatrixPresenceCodec.ReadTransaction(body, time.GetUtcNow());
        }
        catch (Exception ex) when (Refusal(ex) is { } refusal)
        {
            Log.TransactionRefused(logger, "unreadable body");
            return refusal;
        }

        if (received.Origin != origin)
        {
            Log.TransactionRefused(logger, "origin differs from the signer");
            return MatrixResults.Error(StatusCodes.Status403Forbidden, PresenceErrorCodes.Forbidden, "The transaction's origin is not the server that signed it.");
        }

        if (received.Problems.Count > 0)
        {
            Log.TransactionEntriesDropped(logger, origin.Value, received.Problems.Count);
        }

        if (!_replays.TryBegin(origin, txnId))
        {
            instruments.Replays.Add(1);
            return Json(FederationAck); // a retry of one already applied: acknowledged, not applied again
        }

        try
        {
            await engine.ReceiveAsync(origin, received.Message, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _replays.Forget(origin, txnId); // not applied: the sender's retry must apply it
            if (Refusal(ex) is { } refusal)
            {
                return refusal;
            }

            throw;
        }

        options.TransactionApplied?.Invoke(origin);
        return Json(FederationAck);
    }

    /// <summary>The requesting client, or the 401 to answer: <c>M_MISSING_TOKEN</c> without a token, <c>M_UNKNOWN_TOKEN</c> when the host does not know it.</summary>
    public ValueTask<(MatrixClient? Client, IResult? Failure)> AuthenticateAsync(HttpContext context) => AuthenticateAsync(authenticator, context);

    /// <summary>The requesting client, or the 401 to answer.</summary>
    internal static async ValueTask<(MatrixClient? Client, IResult? Failure)> AuthenticateAsync(IMatrixAuthenticator authenticator, HttpContext context)
    {
        string? token = AccessToken(context.Request);
        if (string.IsNullOrEmpty(token))
        {
            return (null, MatrixResults.Error(StatusCodes.Status401Unauthorized, "M_MISSING_TOKEN", "An access token is required."));
        }

        var client = await authenticator.AuthenticateClientAsync(context, token, context.RequestAborted).ConfigureAwait(false);
        return client is null
            ? (null, MatrixResults.Error(StatusCodes.Status401Unauthorized, "M_UNKNOWN_TOKEN", "Unrecognised access token."))
            : (client, null);
    }

    internal static string? AccessToken(HttpRequest request)
    {
        string header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }

        return request.Query["access_token"].ToString();
    }

    /// <summary>The Matrix error for a refusal from the engine or the codec; <see langword="null"/> for anything else (a bug: let it surface).</summary>
    internal static IResult? Refusal(Exception exception) => exception switch
    {
        // JSON that parses but holds a bad value (an unknown state, an over-long status) is M_INVALID_PARAM, as a client expects.
        PresenceFormatException { InnerException: not JsonException } format => MatrixResults.Error(StatusCodes.Status400BadRequest, PresenceErrorCodes.InvalidParam, format.Message),
        PresenceException presence => MatrixResults.FromException(presence),
        ArgumentException argument => MatrixResults.Error(StatusCodes.Status400BadRequest, PresenceErrorCodes.InvalidParam, argument.Message),
        _ => null,
    };

    private static UserId ParseUser(string userId) =>
        UserId.TryParse(userId, out var user, out var error) ? user : throw new PresenceException(PresenceErrorCodes.InvalidParam, error);

    private static IResult Json(string json) => Results.Text(json, "application/json");
}
