/* map_page.c - web/map.html built into the binary (the live map that
 * `spate run --http` serves at /), so the page needs no install path. */
__asm__(".section .rodata\n"
        ".global spate_map_html\n"
        "spate_map_html:\n"
        ".incbin \"web/map.html\"\n"
        "spate_map_html_end:\n"
        ".byte 0\n"
        ".balign 4\n"
        ".global spate_map_html_len\n"
        "spate_map_html_len:\n"
        ".long spate_map_html_end - spate_map_html\n"
        ".previous\n");
