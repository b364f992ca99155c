using System.Net.Http.Headers;
using System.Text;

namespace Presence.Sample;

/// <summary>
/// Sends presence messages as Matrix federation transactions: <c>PUT {peer}/_matrix/federation/v1/send/{txnId}</c>.
/// Request signing (X-Matrix authorization) is out of scope for the sample. Counts messages and bytes per peer.
/// </summary>
public sealed class HttpPresenceTransport(HttpClient http, ServerName origin, Func<ServerName, Uri?> resolve, TimeProvider time) : IPresenceTransport
{
    private long _sequence;
    private long _messages;
    private long _bytes;

    /// <summary>Gets how many transactions were sent successfully.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>Gets how many body bytes were sent successfully.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <inheritdoc/>
    public async ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
    {
        var baseAddress = resolve(destination) ?? throw new InvalidOperationException($"No address is known for {destination}.");
        string body = MatrixPresenceCodec.WriteTransaction(origin, time.GetUtcNow(), message);
        string txnId = $"{time.GetUtcNow().ToUnixTimeMilliseconds()}-{Interlocked.Increment(ref _sequence)}";
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(baseAddress, $"/_matrix/federation/v1/send/{Uri.EscapeDataString(txnId)}")) { Content = content };
        request.Headers.TryAddWithoutValidation("Authorization", SampleAuthenticator.Header(origin, destination)); // unsigned: the sample does not sign
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        Interlocked.Increment(ref _messages);
        Interlocked.Add(ref _bytes, Encoding.UTF8.GetByteCount(body));
    }
}
