/*  rm_chunker: FastCDC (Xia et al., USENIX ATC 2016) with normalized chunking.

    The gear hash fp = (fp << 1) + GEAR[byte] forgets a byte after 64 steps,
    so a cut point depends only on the 64 bytes before it: an insertion moves
    the cut points next to it and leaves the later ones where they were
    (relative to the content), which is what makes re-submits cheap. */
#include "rm_chunker.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "rm_msg.h"

_Static_assert(RM_CHUNK_MAX <= RM_MAX_CHUNK_SIZE, "chunks must fit the store and the wire");
_Static_assert(RM_CHUNK_MIN < RM_CHUNK_AVG && RM_CHUNK_AVG < RM_CHUNK_MAX, "chunk size order");

/*  Normalized chunking, level 2: below the average size a cut needs 18 zero
    bits (rarer cuts, so fewer tiny chunks), above it 14 (more likely cuts,
    so fewer chunks hit the maximum).  The bits are spread over bits 16..63
    rather than packed at the bottom: a bit at position k depends on the last
    k + 1 bytes, so spreading them widens the window each cut decision sees
    and makes neighbouring decisions less correlated (the paper's "zero
    padding").  Changing either mask or the table changes every chunk hash
    on every node: they are part of the storage format. */
#define RM_MASK_S 0x9292524a49490000ULL /* 18 bits: from RM_CHUNK_MIN to RM_CHUNK_AVG */
#define RM_MASK_L 0x8912224448910000ULL /* 14 bits: from RM_CHUNK_AVG to RM_CHUNK_MAX */

/*  Fixed gear table: splitmix64 from seed 0x726d2d6765617231 ("rm-gear1"),
    the first 256 outputs.  Written out rather than computed at start-up so
    that it cannot change behind our back and the function stays pure. */
static const uint64_t rm_gear[256] = {
    0x8e542fe4b69fa08cULL, 0x59ff5138f9ad2ac8ULL, 0x3b7e3601a541e103ULL, 0x23378399b047855cULL,
    0x4fbad8e45409f4b6ULL, 0xba5e20c2128a3dd2ULL, 0x8149a489606cc327ULL, 0x754e300fb573a6b7ULL,
    0x0ef3440a56e98daeULL, 0xb83d8a3449ceaa9eULL, 0x42be37178e7717f5ULL, 0x8010c72514b3eddfULL,
    0x510bf3a5afdd65d3ULL, 0x02aafca75c4d2233ULL, 0x88e1807d7369150eULL, 0x8386e4fbcb0db4b5ULL,
    0xadb94d81a6980086ULL, 0x3846c69953f27597ULL, 0x287b08457fa1895bULL, 0xcb29359ad8d0dfe2ULL,
    0x5e18ea6c7e042d7aULL, 0xd618b24f710e58cdULL, 0x794bf5b2cd8539c1ULL, 0x64903031dcdd33d9ULL,
    0xadd23021ca550b1dULL, 0x8908b20a9efc8b1dULL, 0x3f55916de45efa2cULL, 0xcc61e81a9fcbdcdeULL,
    0x5f5a3f61737b409aULL, 0xe28c151afc49a1e1ULL, 0xa5629c4b5f559773ULL, 0xa7f329182213376eULL,
    0xa91066f26abd9dd6ULL, 0x448d679d23b06514ULL, 0xaccd61496b9d87b3ULL, 0xccf3f6ce1ad81cb2ULL,
    0x0c9be74281e6ad1dULL, 0xb9ad02b3a455d74aULL, 0x26effe7dc6bed01eULL, 0xfa093042ab7ae7c9ULL,
    0xc66a3b9d7a76fc6aULL, 0x16b04a47302e2fb5ULL, 0x8828418398f282ecULL, 0x9d7450717a667265ULL,
    0x492d069b502ce55eULL, 0xc082ae847c144c48ULL, 0xe12de55fe1eedcb7ULL, 0x2cc756b8ff6b732fULL,
    0x0b4fa71f7abdf52eULL, 0x9a469df46448f258ULL, 0x4ca96f624cdf3e04ULL, 0x22f689c4c471e36aULL,
    0xa06cbfeab93397b1ULL, 0x7ebccc07e125af33ULL, 0xfaa6530e8e6c0a25ULL, 0x57116e1d8e8e79d0ULL,
    0x6466df7a321ccb45ULL, 0x9598c607ab3c4dc4ULL, 0xa3f01d784ac3afc8ULL, 0x7c0519d0c9abecedULL,
    0x7312ff2df9293614ULL, 0xab898f08ab16b509ULL, 0x9b369551e5d879b6ULL, 0x7adc74adc4c95f2cULL,
    0x59fab2573097dfd7ULL, 0xcb32fa1954d5adc7ULL, 0x39b8938626ce0c23ULL, 0x39b1564721968d29ULL,
    0xc97ff18ddae3fe76ULL, 0xa3718ee1b1252d2fULL, 0x019ca7ca58438466ULL, 0x6e53f94db4793468ULL,
    0x2b3a4e8e590d6e38ULL, 0x68a4f7cc7c10c89fULL, 0xa661f7a840249298ULL, 0x18ffb307dbb361bcULL,
    0x2020d808e21b74ceULL, 0x4e98bc64cf5cd9bcULL, 0x411f12c2036b4d3cULL, 0xc12e09ceee074b62ULL,
    0xe65638a418f4c454ULL, 0x839ff360096da080ULL, 0x14e21504a3fccf16ULL, 0xfc97dc43c59480bdULL,
    0x9576c377a440fc35ULL, 0xe7d5e8a181180a76ULL, 0x67fb8ac1eb661943ULL, 0x7de8bdb14da294e2ULL,
    0xdd0e62b1569e45b3ULL, 0xcec356c1d9fe1d77ULL, 0x539334ada2c28e8eULL, 0x2ec91e13bf5008c4ULL,
    0xca4f670f528ce5b0ULL, 0x773b8367a920af76ULL, 0xb1e24d1625919279ULL, 0x6872e39e57d77406ULL,
    0x78821382bd28f07eULL, 0x1d2f0d3877b1fe78ULL, 0x53e9007609a11ee0ULL, 0x1c383562e7e92da8ULL,
    0x390c07c9969c4f18ULL, 0x133e0140773acad0ULL, 0x712005831cb0a448ULL, 0xcc78b288ab138b6eULL,
    0xbc561b8a0548c28bULL, 0xc79de72b90b0b509ULL, 0x1fa97724a25f1baeULL, 0xe74696e9d4ee199eULL,
    0xcc75e4eee5e500ccULL, 0x75c4fa6af17d2935ULL, 0xf249258f3b311011ULL, 0x4a3234e579a0ddb7ULL,
    0xe465824c5a06d1b6ULL, 0xea81df698d8f51cdULL, 0xf2fe08d53144f534ULL, 0xc080b20c973ce31eULL,
    0xceaa66432d9139e9ULL, 0x43fdd5807bae1be6ULL, 0x1a0cf8dd82881c99ULL, 0xc26ecfeeec6bcd61ULL,
    0xfd8eaa106e79205aULL, 0xe2e443526536b24eULL, 0x058b8180c518627bULL, 0x95182cf720b19819ULL,
    0x0eee0ffa306353fbULL, 0x63c14fd4c1802e76ULL, 0x28c0992c2704a88bULL, 0x649f6c68a7b8e240ULL,
    0xebd940da0465ce4aULL, 0xe9d029f4eefe893cULL, 0x0c8a795a4aafdc19ULL, 0xf496c3a0d7643406ULL,
    0x794a298ee19b4792ULL, 0x86f739fdfe1739eaULL, 0x9659051fc335084bULL, 0xae552098a3189d2dULL,
    0x21a8378c5f1d77f6ULL, 0x7d635dbbe03244eaULL, 0x83714c17cc9ffc25ULL, 0x9848c1cf351810fdULL,
    0x9cc4ce5a97c32399ULL, 0x76f44de08d905dd9ULL, 0x5308f4eea244770bULL, 0xb505902e95ce144eULL,
    0xfcb0d64e56ba8ea6ULL, 0x267be15db7f217aeULL, 0xc0e1e065e5a75bf9ULL, 0x12119a4bc33332b1ULL,
    0x25c482af0419e4e9ULL, 0x71a43d787773f696ULL, 0x8bad9567488d8e9aULL, 0x76cb6096f24458ddULL,
    0x6550f062812fe275ULL, 0x6d7275b63f17c49fULL, 0xb9cb730e758983f4ULL, 0x611aada886ce8c8cULL,
    0x634aec46ec5487abULL, 0x9f32c0a556016e8bULL, 0xda8b69df572537c7ULL, 0xa607b14a7c3d3d3eULL,
    0x1fa8e8fb8d8cefb3ULL, 0x34236da84392927bULL, 0xfd540714f7ce2dd8ULL, 0xc4150e9a11c6a652ULL,
    0x8cc971b5f16e8b83ULL, 0xb83fbd4e49861cbdULL, 0x7b768ce0c617e1bdULL, 0x30ffb83e2addaa6eULL,
    0x60e56cae77b0545dULL, 0x0095fdf38b71a23bULL, 0xa4540d825fd9a978ULL, 0xd61d3105bf464327ULL,
    0xb507d6f0d2fa757fULL, 0x6a476b549eb0934cULL, 0x034a455972a94d7eULL, 0xe4c141c4dad4b441ULL,
    0xe34612ca13cd8a2cULL, 0xe1b84d9a210588d8ULL, 0x7bf35de3fa6a63a0ULL, 0x17363b7404db14daULL,
    0xc641ca58c9121ac6ULL, 0xac7c9dd35a175725ULL, 0x66d854fb97870c49ULL, 0x7db770e0eacd1592ULL,
    0xfb1d1ad2d96a4b63ULL, 0xba3a849d18833d57ULL, 0x39661845534c2445ULL, 0x9cf1bf8281db207eULL,
    0xd66a9697afdb5a22ULL, 0xe8edf068d2c1f3ebULL, 0x4d69f2a8a80ed08aULL, 0x55673e381253d527ULL,
    0xeec140db5c4d2e52ULL, 0x41f397da8645f5b9ULL, 0x684dc428a994dcbdULL, 0x32a2848886160669ULL,
    0xf5c3e60ae24400a6ULL, 0x7229407f5f4b357fULL, 0x5a4a1fefad7883c5ULL, 0xb104c62e376742d5ULL,
    0x1a8794cd3300b07bULL, 0x2ed36aa97f538027ULL, 0xd1b05d5587ed5100ULL, 0x2d3c434b87482d15ULL,
    0xb1fc00ea4d8b6292ULL, 0x5d438d45f69dad97ULL, 0x308f20ecd3687a40ULL, 0x913609ee73b5b92cULL,
    0xd5cb8713c8a54e4bULL, 0x3f13a5e434cfa590ULL, 0xb4a1ee05a8b9880bULL, 0x3563efe9c6b8c442ULL,
    0x36612bc15f2b7fbcULL, 0x61ac78ed426e1c3cULL, 0xefee3a72bba21a28ULL, 0x854eb72ad67f73f1ULL,
    0xe1f1801f281ceae7ULL, 0x5594b96caf388d10ULL, 0x55c38ed013d55325ULL, 0x17cbff6dfc69e503ULL,
    0x6f1f3bffbb8a821dULL, 0x7adc158ede10bbc3ULL, 0xa7f249b00f48a020ULL, 0x3d26b04469c16560ULL,
    0x2b3e85613caa6d14ULL, 0x498e8bf3702c0db7ULL, 0x0adc6e13965225e3ULL, 0x36a715a055571ab0ULL,
    0x789406a0d4f751e4ULL, 0xa388e6796eeecbb2ULL, 0xf4737a9256b0acfeULL, 0xbadabd13b6354fdeULL,
    0xb177c36b780cd535ULL, 0x80de324269ed88c7ULL, 0x05d6840030bd106cULL, 0x597d26c7dda8c7a7ULL,
    0x32d6f441c5a429c1ULL, 0xf032ec89f664cd25ULL, 0x5d36d7be868df3e9ULL, 0xd8f5c66a4ddff96eULL,
    0xe718c366e0bf5f1bULL, 0xab70e2fa1f597631ULL, 0x0c32c48420d72bd7ULL, 0xf95b25448db12ddeULL,
    0x43e95630ce0cd13eULL, 0xdf6b84cfe3730774ULL, 0x4178c808e2289447ULL, 0x8d2cf351910e385eULL,
    0x4f4ec346bd8847feULL, 0x449e28dc562abd42ULL, 0x240939cd8e9ee917ULL, 0x8e97873c293a8dedULL,
    0xf93aa42e47c62e4cULL, 0x5b657071aeab84c3ULL, 0xbb6fb88234a17f8cULL, 0xbd889e36b753e015ULL,
};

size_t rm_chunker_next(const uint8_t *data, size_t len)
{
    if (len <= RM_CHUNK_MIN)
        return len;
    size_t end = len < RM_CHUNK_MAX ? len : RM_CHUNK_MAX;
    size_t normal = end < RM_CHUNK_AVG ? end : RM_CHUNK_AVG;
    uint64_t fp = 0;
    size_t i = RM_CHUNK_MIN; /* cut-point skipping: no cut before the minimum */

    for (; i < normal; i++) {
        fp = (fp << 1) + rm_gear[data[i]];
        if (!(fp & RM_MASK_S))
            return i + 1;
    }
    for (; i < end; i++) {
        fp = (fp << 1) + rm_gear[data[i]];
        if (!(fp & RM_MASK_L))
            return i + 1;
    }
    return end;
}

/*  Reads until buf holds RM_CHUNKER_BUF bytes or the file ends. */
static int fill_chunker_buf(int fd, const char *name, uint8_t *buf, size_t *have, bool *eof,
                            rm_err_t *err)
{
    while (*have < RM_CHUNKER_BUF && !*eof) {
        ssize_t n = read(fd, buf + *have, RM_CHUNKER_BUF - *have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && name)
            return rm_err_set(err, RM_EIO, "cannot read %s: %s", name, strerror(errno));
        if (n < 0)
            return rm_err_set(err, rm_err_from_errno(errno), "read error: %s", strerror(errno));
        *eof = n == 0;
        *have += (size_t)n;
    }
    return 0;
}

int rm_chunker_stream(int fd, const char *name, uint8_t *buf, rm_chunker_fn *fn, void *arg,
                      rm_err_t *err)
{
    size_t have = 0;
    uint64_t offset = 0;
    bool eof = false;
    for (;;) {
        if (fill_chunker_buf(fd, name, buf, &have, &eof, err) != 0)
            return -1;
        size_t pos = 0;
        while (have - pos > 0 && (eof || have - pos >= RM_CHUNK_MAX)) {
            size_t n = rm_chunker_next(buf + pos, have - pos);
            if (fn(arg, offset, buf + pos, n, err) != 0)
                return -1;
            pos += n;
            offset += n;
        }
        if (eof)
            return 0;
        memmove(buf, buf + pos, have - pos);
        have -= pos;
    }
}
